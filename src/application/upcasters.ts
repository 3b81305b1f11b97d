import type { RecordedEvent } from '../eventstore/event-store.port.js';

/** Current schema version per event type; types not listed are at version 1. */
export const CURRENT_SCHEMA: Record<string, number> = {};

export function schemaOf(type: string): number {
  return CURRENT_SCHEMA[type] ?? 1;
}

type Upcaster = (data: Record<string, unknown>) => Record<string, unknown>;

/** type → (fromVersion → upcaster to fromVersion + 1). */
const UPCASTERS: Record<string, Record<number, Upcaster>> = {};

/** Turns a stored event of any schema version into the current shape (the stored event is never changed). */
export function upcast(event: RecordedEvent): RecordedEvent {
  const chain = UPCASTERS[event.type];
  let version = event.metadata.schema ?? 1;
  if (!chain) return event;
  let data = event.data;
  while (chain[version]) {
    data = chain[version]!(data);
    version++;
  }
  return { ...event, data };
}
