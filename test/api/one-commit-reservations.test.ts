/**
 * A reservation and the VM event it is for in one commit (EventStore.appendMany): a create's
 * host reservation with its `VmPlaced`, a migration's target reservation with its request. What
 * a user checks: the operations succeed as before, the log has each pair side by side in that
 * order, each reservation once, and a target that cannot take the VM still gives a 202 and an
 * operation failed at `prepareIncoming` with the host's reason, holding nothing on it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { EventStore, RecordedEvent, StreamAppend } from '../../src/eventstore/event-store.port.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { createVmOp, getHost, registerSimHost, runOk, runOp, storeEvents } from '../support/e2e.js';

const opOf = (e: RecordedEvent): string | undefined => (e.data as { operationId?: string }).operationId;

describe('e2e: reservations committed with the VM event they are for', () => {
  let t: TestApp;
  /** The stream sets of every appendMany the control plane made. */
  const sets: string[][] = [];

  before(async () => {
    t = await startTestApp();
    const store = t.runtime.store!;
    const appendMany = store.appendMany?.bind(store);
    assert.ok(appendMany, 'the SQLite store appends several streams at once');
    // Swapped on the store the runtime holds: every caller's appendMany comes through here.
    (store as EventStore).appendMany = (appends: StreamAppend[]) => {
      sets.push(appends.map((a) => a.streamId));
      return appendMany(appends);
    };
  });
  after(async () => {
    await t?.close();
  });

  /** The events of one operation in log order, with the one after each (to check two sit side by side). */
  const logOf = async (operationId: string) => {
    const all = await storeEvents(t);
    return { all, mine: all.filter((e) => opOf(e) === operationId) };
  };
  const nextTo = (all: RecordedEvent[], e: RecordedEvent) => all[all.findIndex((x) => x.id === e.id) + 1];

  test('create: the host reservation and VmPlaced in one appendMany, side by side in the log', async () => {
    const host = (await registerSimHost(t, 'hv-one')).id as string;
    const { accepted, operation } = await createVmOp(t, { name: 'together', hostId: host });
    assert.equal(operation.status, 'succeeded', JSON.stringify(operation));
    const vmId = accepted.vmId as string;
    assert.ok(
      sets.some((s) => s.join() === [`host-${host}`, `vm-${vmId}`].join()),
      JSON.stringify(sets),
    );
    const { all, mine } = await logOf(accepted.operationId);
    const reserved = mine.filter((e) => e.type === 'HostCapacityReserved');
    assert.equal(reserved.length, 1, 'reserved once');
    assert.equal(nextTo(all, reserved[0]!)?.type, 'VmPlaced');
    assert.equal(nextTo(all, reserved[0]!)?.streamId, `vm-${vmId}`);
  });

  test('live migration: the target reservation and the request in one appendMany; reserved once; the move succeeds', async () => {
    const src = (await registerSimHost(t, 'hv-from')).id as string;
    const dst = (await registerSimHost(t, 'hv-to')).id as string;
    const { accepted } = await createVmOp(t, { name: 'moving', hostId: src, memoryMiB: 128 });
    const vmId = accepted.vmId as string;
    const { operation } = await runOk(t, 'post', `/v1/vms/${vmId}/migrations`, { targetHostId: dst, live: true });
    assert.ok(
      sets.some((s) => s.join() === [`host-${dst}`, `vm-${vmId}`].join()),
      JSON.stringify(sets),
    );
    const { all, mine } = await logOf(operation.id as string);
    const reserved = mine.filter((e) => e.type === 'HostCapacityReserved');
    assert.deepEqual(
      reserved.map((e) => e.streamId),
      [`host-${dst}`],
      'the saga found it reserved and reserved nothing more',
    );
    assert.equal(nextTo(all, reserved[0]!)?.type, 'VmMigrationRequested');
  });

  test('migration to a host that cannot take the VM: 202, then failed at prepareIncoming with the host’s reason; nothing held there', async () => {
    const src = (await registerSimHost(t, 'hv-roomy')).id as string;
    const small = (await registerSimHost(t, 'hv-small', undefined, { vcpus: 64, memoryMiB: 256 })).id as string;
    const { accepted } = await createVmOp(t, { name: 'too-big', hostId: src, memoryMiB: 512 });
    const vmId = accepted.vmId as string;
    const { operation } = await runOp(t, 'post', `/v1/vms/${vmId}/migrations`, { targetHostId: small, live: true });
    assert.equal(operation.status, 'failed', JSON.stringify(operation));
    assert.match(String(operation.error), /hv-small .* 256 MiB free; the VM needs 1 vCPUs and 512 MiB/);
    const { mine } = await logOf(operation.id as string);
    const failed = mine.find((e) => e.type === 'VmOperationFailed');
    assert.equal((failed?.data as { step?: string } | undefined)?.step, 'prepareIncoming');
    assert.deepEqual(
      mine.filter((e) => e.type === 'HostCapacityReserved'),
      [],
    );
    const held = (await getHost(t, small)).allocated as { vcpus: number; memoryMiB: number };
    assert.deepEqual([held.vcpus, held.memoryMiB], [0, 0]);
  });
});
