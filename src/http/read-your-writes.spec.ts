import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RecordedEvent } from '../eventstore/event-store.port.js';
import { ReadYourWrites, type Write } from './read-your-writes.js';
import type { ProjectionControl } from './tokens.js';

/** A projection engine whose waits are recorded and answered by the test. */
function fakeProjections(answer: boolean) {
  const asked: Array<{ kind: 'event' | 'position'; at: Write | bigint; names: string[] | undefined }> = [];
  const control = {
    waitForEvent: (w: Write, _ms: number, names: string[]) => {
      asked.push({ kind: 'event', at: w, names });
      return Promise.resolve(answer);
    },
    waitFor: (position: bigint, _ms: number, names?: string[]) => {
      asked.push({ kind: 'position', at: position, names });
      return Promise.resolve(answer);
    },
  } as unknown as ProjectionControl;
  // A function, so that an assertion that `asked` is empty does not narrow later reads of it.
  return { control, asked, pop: () => asked.pop() };
}

function event(streamId: string, revision: number, position: number, data: object = {}): RecordedEvent {
  return { streamId, revision: BigInt(revision), position: BigInt(position), data } as unknown as RecordedEvent;
}

describe('ReadYourWrites', () => {
  test('a read of nothing this process wrote asks the projections nothing', async () => {
    const { control, asked } = fakeProjections(true);
    const ryw = new ReadYourWrites(control);
    assert.equal(await ryw.stream('vm-a'), true);
    assert.equal(await ryw.operation('op-1'), true);
    assert.equal(await ryw.principal('alice'), true);
    assert.deepEqual(asked, []);
  });

  test('a write is waited for by its stream, the operations it names and its principal; once seen, forgotten', async () => {
    const { control, asked, pop } = fakeProjections(true);
    const ryw = new ReadYourWrites(control);
    // A forced stop superseding a graceful one names both operations.
    ryw.wrote('alice', [
      event('vm-a', 4, 40, { operationId: 'op-old', cancelled: true }),
      event('vm-a', 5, 41, { operationId: 'op-new' }),
    ]);
    assert.equal(await ryw.stream('vm-a', 5n), true, 'a record already at the revision');
    assert.deepEqual(asked, [], 'does not wait');
    assert.equal(await ryw.stream('vm-a', 4n), true);
    assert.deepEqual(pop(), {
      kind: 'event',
      at: { streamId: 'vm-a', revision: 5n, position: 41n },
      names: ['vms'],
    });
    assert.equal(await ryw.stream('vm-a', 4n), true);
    assert.deepEqual(asked, [], 'seen applied once: the next read asks nothing');
    for (const op of ['op-old', 'op-new']) {
      assert.equal(await ryw.operation(op), true);
      assert.deepEqual(pop()?.at, { streamId: 'vm-a', revision: 5n, position: 41n }, op);
    }
    assert.equal(await ryw.principal('alice'), true);
    assert.deepEqual(pop(), { kind: 'position', at: 41n, names: ['vms'] });
    assert.equal(await ryw.principal('bob'), true);
    assert.deepEqual(asked, [], "another principal's list does not wait");
    assert.deepEqual(ryw.counts, { held: 4, late: 0 });
  });

  test('a wait that times out keeps the write (the next read waits again) and is counted late', async () => {
    const { control, asked } = fakeProjections(false);
    const ryw = new ReadYourWrites(control);
    ryw.wrote('alice', [event('vm-a', 1, 10)]);
    assert.equal(await ryw.stream('vm-a'), false);
    assert.equal(await ryw.stream('vm-a'), false);
    assert.equal(asked.length, 2);
    assert.equal(ryw.lastWrite('vm-a')?.revision, 1n);
    assert.deepEqual(ryw.counts, { held: 2, late: 2 });
  });

  test('a command that appended nothing is not remembered', () => {
    const ryw = new ReadYourWrites(fakeProjections(true).control);
    assert.equal(ryw.wrote('alice', []), undefined);
    assert.deepEqual(ryw.size, { streams: 0, operations: 0, principals: 0 });
  });

  test('bounded: past the limit the least recently written stream is forgotten', () => {
    const ryw = new ReadYourWrites(fakeProjections(true).control, 3000, 2);
    ryw.wrote('alice', [event('vm-a', 0, 1)]);
    ryw.wrote('alice', [event('vm-b', 0, 2)]);
    ryw.wrote('alice', [event('vm-a', 1, 3)]);
    ryw.wrote('alice', [event('vm-c', 0, 4)]);
    assert.equal(ryw.lastWrite('vm-b'), undefined, 'vm-b, least recently written, is forgotten');
    assert.equal(ryw.lastWrite('vm-a')?.revision, 1n);
    assert.equal(ryw.lastWrite('vm-c')?.revision, 0n);
    assert.deepEqual(ryw.size, { streams: 2, operations: 0, principals: 1 });
  });

  test('a newer write to the stream is kept when an older one is seen applied', async () => {
    let release!: (ok: boolean) => void;
    const control = {
      waitForEvent: () => new Promise<boolean>((r) => (release = r)),
    } as unknown as ProjectionControl;
    const ryw = new ReadYourWrites(control);
    ryw.wrote('alice', [event('vm-a', 1, 10)]);
    const read = ryw.stream('vm-a');
    ryw.wrote('alice', [event('vm-a', 2, 11)]);
    release(true);
    assert.equal(await read, true);
    assert.equal(ryw.lastWrite('vm-a')?.revision, 2n, 'the write the read did not wait for is still remembered');
  });
});
