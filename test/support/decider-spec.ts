import assert from 'node:assert/strict';
import { fold, type Decider } from '../../src/domain/decider.js';
import { DomainError, type DomainErrorCode } from '../../src/domain/domain-error.js';

/**
 * Emmett-style given / when / then for pure deciders:
 *
 *   given(vmDecider, history).when(command).then([expectedEvents]);
 *   given(vmDecider, history).when(command).thenThrows('conflict', /busy/);
 *   given(vmDecider, history).when(command).thenNothing();
 *
 * `given` folds the history with evolve; the `then*` calls run decide and assert. Every `then*`
 * also checks that decide left the state it was given untouched (deciders are pure).
 */
export interface DeciderSpecGiven<Command, Event, State> {
  /** The state folded from the given events. */
  readonly state: State;
  when(command: Command): DeciderSpecWhen<Event, State>;
}

export interface DeciderSpecWhen<Event, State> {
  /** Asserts decide returns exactly these events; returns the state after evolving them. */
  then(expected: Event[]): State;
  /** Asserts decide throws a DomainError with this code (and message); returns the error. */
  thenThrows(code: DomainErrorCode, message?: RegExp): DomainError;
  /** Asserts decide accepts the command and produces no event (an idempotent no-op). */
  thenNothing(): State;
}

export function given<Command, Event, State>(
  decider: Decider<Command, Event, State>,
  events: Event[],
): DeciderSpecGiven<Command, Event, State> {
  const state = fold(decider, events);
  return {
    state,
    when(command: Command): DeciderSpecWhen<Event, State> {
      const run = (): Event[] => {
        const before = structuredClone(state);
        try {
          return decider.decide(command, state);
        } finally {
          assert.deepEqual(state, before, 'decide must not mutate the state it is given');
        }
      };
      return {
        then(expected: Event[]): State {
          const actual = run();
          assert.deepEqual(actual, expected);
          return actual.reduce(decider.evolve, state);
        },
        thenThrows(code: DomainErrorCode, message?: RegExp): DomainError {
          let produced: Event[];
          try {
            produced = run();
          } catch (err) {
            if (!(err instanceof DomainError)) throw err;
            assert.equal(err.code, code, `expected a DomainError '${code}', got '${err.code}': ${err.message}`);
            if (message) assert.match(err.message, message);
            return err;
          }
          assert.fail(`expected a DomainError '${code}', but decide returned ${JSON.stringify(produced)}`);
        },
        thenNothing(): State {
          assert.deepEqual(run(), []);
          return state;
        },
      };
    },
  };
}
