import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { NewEvent } from './event-store.port.js';
import { newEventsAsJson, normalizeNewEvents, parseNewEvent } from './new-events.js';

describe('new events: the JSON form an append stores', () => {
  const odd = {
    id: 'e1',
    type: 'Odd',
    // A bigint, an undefined field, a Date and integer-like keys: what the caller's object may hold.
    data: { big: 12345678901234567890n, gone: undefined, when: new Date('2026-01-02T03:04:05.000Z'), b: 1, 2: 'two' },
    metadata: { principal: 'p', correlationId: 'c', causationId: 'c' },
  } as unknown as NewEvent;

  test('parsed from its JSON text (as the SQLite writer thread does) it is the normalized event', () => {
    const text = newEventsAsJson([odd]);
    assert.equal(typeof text[0]!.data, 'string');
    assert.deepEqual(text.map(parseNewEvent), normalizeNewEvents([odd]));
    assert.deepEqual(parseNewEvent(text[0]!).data, {
      2: 'two',
      big: '12345678901234567890',
      when: '2026-01-02T03:04:05.000Z',
      b: 1,
    });
  });

  test('a batch that cannot be stored is refused before any text leaves the caller', () => {
    assert.throws(() => newEventsAsJson([]), RangeError);
    assert.throws(() => newEventsAsJson([odd, odd]), /appears twice/);
    assert.throws(() => newEventsAsJson([{ ...odd, type: '' }]), TypeError);
    assert.throws(() => newEventsAsJson([{ ...odd, data: undefined } as unknown as NewEvent]), /must be JSON values/);
  });
});
