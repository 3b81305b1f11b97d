import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import type { EventStore, RecordedEvent } from '../eventstore/event-store.port.js';
import { recordedEvent } from '../../test/support/recorded-event.js';
import { MemoryFold } from './memory-fold.js';
import type { Projection, ProjectionTx } from './projection.js';
import { ReadModelKeys } from './read-model.keys.js';
import { ShadowReplay } from './shadow-replay.js';
import { VmsProjection } from './vms.projection.js';

const keys = new ReadModelKeys('t');

/** One VM's life: created (a new VM, an operation opened), placed and started (the operation advanced and closed), stopped. */
function vmLife(): RecordedEvent[] {
  const events: Array<[string, Record<string, unknown>]> = [
    [
      'VmCreateRequested',
      {
        vmId: 'a',
        operationId: 'op-c',
        spec: { name: 'a', vcpus: 1, memoryMiB: 64, diskGiB: 1 },
        requestedHostId: null,
        start: true,
        project: 'default',
      },
    ],
    ['VmPlaced', { operationId: 'op-c', hostId: 'h1' }],
    ['VmOperationRunning', { operationId: 'op-c', step: 'define' }],
    ['VmDefined', { operationId: 'op-c', hostId: 'h1' }],
    ['VmStarted', { operationId: 'op-c' }],
    ['VmStopRequested', { operationId: 'op-s', force: false }],
    ['VmStopped', { operationId: 'op-s' }],
  ];
  return events.map(([type, data], i) =>
    recordedEvent({ streamId: 'vm-a', type, data, revision: BigInt(i), position: BigInt(i + 1) }),
  );
}

/** The fold behind a live transaction's face (reads only through a promise), every write noted in order. */
function liveLike(fold: MemoryFold, writes: string[]): ProjectionTx {
  return {
    get: (k) => fold.get(k),
    set: (k, v) => (writes.push(`set ${k}`), fold.set(k, v)),
    del: (k) => (writes.push(`del ${k}`), fold.del(k)),
    index: (k, s, m) => (writes.push(`index ${k} ${m}`), fold.index(k, s, m)),
    unindex: (k, m) => (writes.push(`unindex ${k} ${m}`), fold.unindex(k, m)),
  };
}

/** The same fold with its promise-free read, as a replay hands it to apply. */
function folded(fold: MemoryFold, writes: string[]): ProjectionTx {
  return { ...liveLike(fold, writes), peek: (k) => fold.peek(k) };
}

describe('vms projection on a replay fold (reads without a promise)', () => {
  it('applies a VM event at once, with no promise, and writes what the live path writes, in the same order', async () => {
    const projection = new VmsProjection(keys);
    const live = new MemoryFold();
    const fold = new MemoryFold();
    const liveWrites: string[] = [];
    const foldWrites: string[] = [];
    for (const e of vmLife()) {
      await projection.apply(e, liveLike(live, liveWrites));
      assert.equal(projection.apply(e, folded(fold, foldWrites)), undefined, `${e.type} applied at once`);
    }
    assert.deepEqual(foldWrites, liveWrites);
    const all = (f: MemoryFold) =>
      f.snapshot(
        (k) => k,
        () => true,
      );
    assert.deepEqual(all(fold), all(live));
    // The life went through every branch: a new VM counted, an operation opened, advanced and closed.
    assert.ok(liveWrites.includes(`set ${keys.liveIndexFormat()}`));
    assert.equal(fold.peek<{ status: string }>(keys.operation('op-c'))?.status, 'succeeded');
    assert.equal(fold.peek<{ status: string }>(keys.operation('op-s'))?.status, 'succeeded');
  });

  it('a replay skips a poison event that an apply throws at once, undoing its writes alone', async () => {
    const projection: Projection = {
      name: 'probe',
      owns: () => true,
      apply: (e, tx) => {
        tx.set(`t:probe:${e.id}`, 1);
        // Thrown by apply itself, not as a rejected promise: the replay must still park it as the live runner does.
        if (e.id === 'bad') throw new TypeError('unreadable event');
      },
    };
    const replay = new ShadowReplay({} as EventStore, {} as Redis, projection, keys, { persist: false });
    const page = ['ok1', 'bad', 'ok2'].map((id, i) => ({
      ...recordedEvent({ streamId: 'vm-a', type: 'VmStarted', position: BigInt(i + 1) }),
      id,
    }));
    await replay.applyPage(page);
    const view = replay.view()!;
    assert.deepEqual([...view.keys()].sort(), ['t:probe:ok1', 't:probe:ok2']);
    assert.equal(replay.position, 3n);
  });
});
