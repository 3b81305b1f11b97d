import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rawRowToLoggedHash, rawRowToRecordedEvent, rowToLoggedHash, rowToRecordedEvent } from './record-codec.js';

const metadata = JSON.stringify({
  principal: 'user:a',
  correlationId: 'c',
  causationId: 'c',
  at: '2030-01-01T00:00:00.000Z',
  schema: 1,
  prevHash: 'p',
  hash: 'h',
  extra: 'kept',
});
/** One stored event as both row shapes: by column name, and as an array in EVENT_COLUMNS' order. */
const named = {
  position: 7n,
  id: 'e7',
  stream_id: 'vm-1',
  stream_revision: 3n,
  type: 'VmStarted',
  data: '{"operationId":"o"}',
  metadata,
};
const raw = [7n, 'e7', 'vm-1', 3n, 'VmStarted', '{"operationId":"o"}', metadata];

describe('rawRowToRecordedEvent (SQLite and PostgreSQL rows read as arrays)', () => {
  it('gives the event rowToRecordedEvent gives for the same row, field for field and in the same order', () => {
    const fromRaw = rawRowToRecordedEvent(raw);
    const fromNamed = rowToRecordedEvent(named);
    assert.deepEqual(fromRaw, fromNamed);
    // The same shape (one hidden class for both readers' events) and the same JSON.
    assert.deepEqual(Object.keys(fromRaw), Object.keys(fromNamed));
    assert.equal(fromRaw.position, 7n);
    assert.equal(fromRaw.streamId, 'vm-1');
    assert.equal(fromRaw.metadata.principal, 'user:a');
  });

  it('refuses what is not a row of the seven event columns, and bad data or metadata as the named reader does', () => {
    assert.throws(() => rawRowToRecordedEvent(named), /array of the 7 event columns/);
    assert.throws(() => rawRowToRecordedEvent(raw.slice(0, 6)), /array of the 7 event columns/);
    assert.throws(() => rawRowToRecordedEvent([1n, ...raw.slice(1, 5), '[]', metadata]), /data is not a JSON object/);
    assert.throws(() => rawRowToRecordedEvent([...raw.slice(0, 6), '{"schema":1}']), /metadata\.principal is missing/);
    assert.throws(() => rawRowToRecordedEvent(['x', ...raw.slice(1)]), /events\.position is not an integer/);
  });
});

describe('rawRowToLoggedHash (PostgreSQL hash rows read as arrays)', () => {
  const namedHash = { position: '7', id: 'e7', stream_id: 'vm-1', stream_revision: '3', type: 'VmStarted', hash: 'h' };
  const rawHash = [7n, 'e7', 'vm-1', 3n, 'VmStarted', 'h'];

  it('gives the place and hash rowToLoggedHash gives for the same row, in the same order', () => {
    const fromRaw = rawRowToLoggedHash(rawHash);
    assert.deepEqual(fromRaw, rowToLoggedHash(namedHash));
    assert.deepEqual(Object.keys(fromRaw), Object.keys(rowToLoggedHash(namedHash)));
  });

  it('refuses what is not a row of the six hash columns, and a missing hash', () => {
    assert.throws(() => rawRowToLoggedHash(namedHash), /array of the 6 hash columns/);
    assert.throws(() => rawRowToLoggedHash(rawHash.slice(0, 5)), /array of the 6 hash columns/);
    assert.throws(() => rawRowToLoggedHash([...rawHash.slice(0, 5), null]), /metadata\.hash is missing/);
  });
});
