import type { EventStore } from '../src/eventstore/event-store.port.js';

const COUNTED = [
  'append',
  'appendMany',
  'readStream',
  'readAll',
  'headPosition',
  'readCheckpoint',
  'writeCheckpoint',
] as const;
type Counted = (typeof COUNTED)[number];

/**
 * Counts the calls made on one store instance until stop() (which puts the methods
 * back): a figure that does not move with the machine's load, unlike wall-clock.
 * Wraps the instance's own methods, so every component holding the instance is counted.
 */
export function countStoreCalls(store: EventStore): { stop: () => Record<Counted, number> } {
  const counts = Object.fromEntries(COUNTED.map((m) => [m, 0])) as Record<Counted, number>;
  const target = store as unknown as Record<Counted, (...args: unknown[]) => unknown>;
  // appendMany is optional in the port: counted where the store has it (0 where not).
  const originals = COUNTED.filter((m) => typeof target[m] === 'function').map((m) => [m, target[m]] as const);
  for (const [m, original] of originals) {
    target[m] = (...args: unknown[]) => {
      counts[m]++;
      return original.apply(store, args);
    };
  }
  return {
    stop: () => {
      for (const [m, original] of originals) target[m] = original;
      return counts;
    },
  };
}
