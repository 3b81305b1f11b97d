/**
 * Issue #14, DESIGN invariant 6: after a restart, the first command on a VM with a long
 * history reads its stream from the snapshot kept in Redis, not from the first event;
 * with Redis wiped (no snapshot) it folds the whole stream and is just as right.
 * Real Redis, SQLite on disk, BullMQ workers, restart of the whole process.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { ReadStreamOptions } from '../../src/eventstore/event-store.port.js';
import { deleteRedisPrefix, startTestApp, type TestApp } from '../support/app.js';
import { tempDir, uniqueName } from '../support/env.js';
import { createVmOp, registerSimHost, runOk, type Json } from '../support/e2e.js';

/** Counts the events each read of `streamId` returns (the command path's loader shares the runtime's store). */
function countReads(t: TestApp, streamId: string): Array<{ from: bigint | undefined; returned: number }> {
  const reads: Array<{ from: bigint | undefined; returned: number }> = [];
  const store = t.runtime.store!;
  const readStream = store.readStream.bind(store);
  store.readStream = async (id: string, options?: ReadStreamOptions) => {
    const events = await readStream(id, options);
    if (id === streamId) reads.push({ from: options?.fromRevision, returned: events.length });
    return events;
  };
  return reads;
}

describe('aggregate snapshots across a restart', () => {
  const dir = tempDir('vl-snapshots-');
  const redisPrefix = uniqueName('vlt');
  const env = { SNAPSHOT_EVERY: '10' };
  let t: TestApp | undefined;
  let vmId = '';
  after(async () => {
    await t?.close();
    dir.cleanup();
  });

  test('a VM with a long history: its snapshot is in Redis, at a revision of its stream', async () => {
    t = await startTestApp({ dataDir: dir.dir, redisPrefix, env });
    const host = await registerSimHost(t, 'hv-snap');
    const created = await createVmOp(t, { hostId: host.id });
    assert.equal(created.operation.status, 'succeeded');
    vmId = created.accepted.vmId!;
    for (let i = 0; i < 8; i++) await runOk(t, 'post', `/v1/vms/${vmId}/${i % 2 === 0 ? 'stop' : 'start'}`, {});
    const raw = await t.runtime.redis.get(`${redisPrefix}:snap:vm:vm-${vmId}`);
    assert.ok(raw, 'a snapshot was written');
    const snap = JSON.parse(raw) as { revision: string; state: Json };
    assert.ok(Number(snap.revision) >= 9, `snapshot at revision ${snap.revision}`);
    assert.equal(snap.state.id, vmId);
    await t.stop();
    t = undefined;
  });

  test('after a restart the first command reads from the snapshot, and decides right', async () => {
    t = await startTestApp({ dataDir: dir.dir, redisPrefix, env });
    const snap = JSON.parse((await t.runtime.redis.get(`${redisPrefix}:snap:vm:vm-${vmId}`))!) as { revision: string };
    const reads = countReads(t, `vm-${vmId}`);
    const { operation } = await runOk(t, 'post', `/v1/vms/${vmId}/stop`, {});
    assert.equal(operation.kind, 'stop');
    const first = reads[0]!;
    assert.equal(first.from, BigInt(snap.revision), 'the first read starts at the snapshot, not at revision 0');
    assert.ok(
      reads.every((r) => r.from !== undefined && r.from > 0n),
      `no read of the stream from its start: ${JSON.stringify(reads, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`,
    );
    assert.equal((await t.as('viewer').get(`/v1/vms/${vmId}`)).body.state, 'stopped');
    await t.stop();
    t = undefined;
  });

  test('a snapshot forged in Redis on a genuine anchor (its revision and hash kept) is not used: the state is that of the log', async () => {
    // Whoever can write to Redis edits the stopped VM's snapshot to say it runs, keeping the MAC
    // it had: were it trusted, the start below would be decided as already done.
    t = await startTestApp({ dataDir: dir.dir, redisPrefix, env });
    const key = `${redisPrefix}:snap:vm:vm-${vmId}`;
    const snap = JSON.parse((await t.runtime.redis.get(key))!) as { revision: string; state: { state: string } };
    assert.equal(snap.state.state, 'stopped');
    snap.state.state = 'running';
    await t.runtime.redis.set(key, JSON.stringify(snap));
    const reads = countReads(t, `vm-${vmId}`);
    const { operation } = await runOk(t, 'post', `/v1/vms/${vmId}/start`, {});
    assert.equal(operation.kind, 'start');
    assert.equal(operation.status, 'succeeded', 'the start ran: the VM was stopped, as the log says');
    assert.equal(reads[0]!.from, undefined, 'the forged snapshot was ignored: the stream was read from its start');
    assert.equal((await t.as('viewer').get(`/v1/vms/${vmId}`)).body.state, 'running');
    await runOk(t, 'post', `/v1/vms/${vmId}/stop`, {});
    await t.stop();
    t = undefined;
  });

  test('with Redis wiped (no snapshot) the stream is folded from its start: the same state', async () => {
    await deleteRedisPrefix(redisPrefix);
    t = await startTestApp({ dataDir: dir.dir, redisPrefix, env });
    const reads = countReads(t, `vm-${vmId}`);
    // Whatever loads the VM first after the wipe (the POST below, or the app's own start-up work
    // before `reads` counts) must fold the whole stream: a snapshot found now was written from such a
    // full fold after the wipe, never left from before it.
    const rebuilt = await t.runtime.redis.get(`${redisPrefix}:snap:vm:vm-${vmId}`);
    await runOk(t, 'post', `/v1/vms/${vmId}/start`, {});
    if (rebuilt === null) assert.equal(reads[0]!.from, undefined, 'no snapshot: read from the start');
    assert.equal((await t.as('viewer').get(`/v1/vms/${vmId}`)).body.state, 'running');
  });
});
