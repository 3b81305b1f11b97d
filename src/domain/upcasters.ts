import { VM_EVENT_VERSIONS, type VmMigrated, type VmMigratedV1Data } from './vm/vm.events.js';

/** Current schema version per event type; types not listed are at version 1. New events are written at it. */
export const CURRENT_SCHEMA: Readonly<Record<string, number>> = { ...VM_EVENT_VERSIONS };

export function schemaOf(type: string): number {
  return CURRENT_SCHEMA[type] ?? 1;
}

type EventData = Record<string, unknown>;

/** What an upcaster needs of a stored event (the store's RecordedEvent fits it; the domain imports no store). */
export interface StoredEvent {
  type: string;
  data: EventData;
  metadata: { schema?: number };
}
type Upcaster = (data: EventData) => EventData;

/** VmMigrated v1 → v2: `hostId` (the destination) becomes `targetHostId`; nothing else changes. */
export function vmMigratedV1ToV2(data: EventData): EventData {
  const { hostId, ...rest } = data as unknown as VmMigratedV1Data;
  const v2: VmMigrated['data'] = { ...rest, targetHostId: hostId };
  return v2 as unknown as EventData;
}

/** type → (fromVersion → upcaster to fromVersion + 1). */
export const UPCASTERS: Readonly<Record<string, Readonly<Record<number, Upcaster>>>> = {
  VmMigrated: { 1: vmMigratedV1ToV2 },
};

/**
 * Turns a stored event of any schema version into the current shape. The stored
 * event is never changed (its hash covers the data as written): only the returned
 * copy's data is new, its metadata (schema included) stays as stored. A version
 * newer than this code knows is returned as is.
 */
export function upcast<E extends StoredEvent>(event: E): E {
  const chain = UPCASTERS[event.type];
  if (!chain) return event;
  let version = event.metadata.schema ?? 1;
  let data = event.data;
  while (chain[version]) {
    data = chain[version]!(data);
    version++;
  }
  return data === event.data ? event : { ...event, data };
}
