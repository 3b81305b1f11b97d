import type { RecordedEvent } from '../../src/eventstore/event-store.port.js';

/**
 * A recorded event for specs that only look at its stream, type, position or data: the rest
 * (ids, metadata, hash chain) is filled with fixed, valid-shaped values.
 */
export function recordedEvent(
  fields: Pick<RecordedEvent, 'streamId' | 'type'> & Partial<Omit<RecordedEvent, 'streamId' | 'type'>>,
): RecordedEvent {
  return {
    id: `${fields.streamId}/${fields.type}/${fields.position ?? 1n}`,
    revision: 0n,
    position: 1n,
    data: {},
    metadata: {
      principal: 'user:t',
      correlationId: 'c',
      causationId: 'c',
      at: '2030-01-01T00:00:00.000Z',
      schema: 1,
      prevHash: '',
      hash: '',
    },
    ...fields,
  };
}
