/**
 * Issue 16 item 2: cancel and supersede, with real workers on simulated hosts whose
 * driver hangs on a verb until its call is aborted. DELETE /v1/operations/{id} aborts
 * the call in flight and records `cancelled` with the principal and reason; the VM is
 * back where it was (a create: failed, its reservation released). A finished operation
 * is a 409 naming its status; another project's or an unknown one a 404; a forced stop
 * supersedes a graceful stop in flight instead of answering 409 busy. A migration before its
 * hand-off records the cancel as asked; the driver's answer closes it (real QEMU deciding
 * cancelled or too late: test/drivers/qemu/qemu-migration-cancel.test.ts).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { logLength, settledLogLength, startTestApp, waitOperation, type TestApp } from '../support/app.js';
import { assertAccepted, assertError, registerSimHost, waitAllocated, type Json } from '../support/e2e.js';
import { tempDir } from '../support/env.js';
import { asUser, writeAuthFile } from '../support/users.js';
import { waitFor } from '../support/wait.js';

const VM = { name: 'vm', vcpus: 1, memoryMiB: 64, diskGiB: 1 };

describe('cancel and supersede (simulated workers)', () => {
  let t: TestApp;
  const dir = tempDir('vl-cancel-');
  const alice = () => asUser(t, 'alice');
  const bob = () => asUser(t, 'bob');
  let hangStop = '';
  let hangDefine = '';

  before(async () => {
    const authFile = writeAuthFile(dir.dir, [
      { name: 'alice', role: 'operator', projects: ['team-a'] },
      { name: 'bob', role: 'operator', projects: ['team-b'] },
      { name: 'root', role: 'admin', projects: 'all' },
    ]);
    t = await startTestApp({ env: { AUTH_FILE: authFile } });
    for (const name of ['team-a', 'team-b'])
      assert.equal((await t.as('admin').post('/v1/projects', { name })).status, 201);
    hangStop = (await registerSimHost(t, 'hv-hang-stop', 'simulated://?latencyMs=0&hangVerbs=stop')).id as string;
    hangDefine = (await registerSimHost(t, 'hv-hang-define', 'simulated://?latencyMs=0&hangVerbs=define')).id as string;
  });
  after(async () => {
    await t.close();
    dir.cleanup();
  });

  const getVm = async (_t: TestApp, vmId: string): Promise<Json> => {
    const res = await alice().get(`/v1/vms/${vmId}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body as Json;
  };

  const running = (operationId: string) =>
    waitFor(
      async () => {
        const res = await alice().get(`/v1/operations/${operationId}`);
        return res.body.status === 'running' ? (res.body as Json) : undefined;
      },
      { what: `operation ${operationId} running` },
    );

  const runningVm = async (): Promise<string> => {
    const created = assertAccepted(await alice().post('/v1/vms', { ...VM, hostId: hangStop }));
    assert.equal((await waitOperation(t, created.operationId)).status, 'succeeded');
    return created.vmId;
  };

  test('a graceful stop hung in the driver: cancelled with principal and reason, the VM running and free', async () => {
    const vmId = await runningVm();
    const stop = assertAccepted(await alice().post(`/v1/vms/${vmId}/stop`, {}));
    await running(stop.operationId);

    // Another project's operation is a 404, like an unknown one; a viewer may not cancel; nothing appended.
    const before = await settledLogLength(t);
    assertError(await bob().delete(`/v1/operations/${stop.operationId}`), 404, stop.operationId);
    assertError(await t.as('operator').delete('/v1/operations/no-such-op'), 404, 'no-such-op');
    assertError(await t.as('viewer').delete(`/v1/operations/${stop.operationId}`), 403);
    assertError(await alice().delete(`/v1/operations/${stop.operationId}?reason=${'x'.repeat(501)}`), 400, 'reason');
    assert.equal(await logLength(t), before);

    const res = await alice().delete(`/v1/operations/${stop.operationId}?reason=guest%20ignores%20ACPI`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.status, 'cancelled');
    assert.deepEqual(res.body.cancelled, { by: 'alice', reason: 'guest ignores ACPI' });
    assert.match(res.body.error as string, /cancelled by alice: guest ignores ACPI/);

    const vm = await getVm(t, vmId);
    assert.equal(vm.state, 'running');
    assert.equal(vm.pendingOperation, null);

    // Cancelling it again: 409 naming its status, nothing appended.
    const again = await settledLogLength(t);
    assertError(await alice().delete(`/v1/operations/${stop.operationId}`), 409, /already cancelled/);
    assert.equal(await logLength(t), again);

    // The VM takes the next command (a pause, which this host does not hang on).
    const pause = assertAccepted(await alice().post(`/v1/vms/${vmId}/pause`, {}));
    assert.equal((await waitOperation(t, pause.operationId)).status, 'succeeded');
    assertError(await alice().delete(`/v1/operations/${pause.operationId}`), 409, /already succeeded/);
  });

  test('a create hung in define: cancelled, the VM failed with its reservation released, then deletable', async () => {
    const created = assertAccepted(await alice().post('/v1/vms', { ...VM, name: 'doomed', hostId: hangDefine }));
    await running(created.operationId);
    const res = await alice().delete(`/v1/operations/${created.operationId}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.status, 'cancelled');
    assert.deepEqual(res.body.cancelled, { by: 'alice' });
    assert.equal((await getVm(t, created.vmId)).state, 'failed');
    await waitAllocated(t, hangDefine, { vcpus: 0, memoryMiB: 0 });
    const del = assertAccepted(await alice().delete(`/v1/vms/${created.vmId}`));
    assert.equal((await waitOperation(t, del.operationId)).status, 'succeeded');
  });

  /** The VM's domains as the hosts' own drivers report them, asked over the queue. */
  const domainsOf = async (hostId: string, vmId: string): Promise<Json[]> => {
    const res = await t.as('admin').get(`/v1/hosts/${hostId}/domains`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const all = (Array.isArray(res.body) ? res.body : (res.body as Json).items) as Json[];
    return all.filter((d) => d.vmId === vmId || d.name === vmId || JSON.stringify(d).includes(vmId));
  };

  /** A migration whose `hang` host hangs on `verb` until aborted; answers when that step runs. */
  const migrationHanging = async (name: string, where: 'source' | 'target', verb: string) => {
    const hang = `simulated://?latencyMs=0&hangVerbs=${verb}`;
    const ok = 'simulated://?latencyMs=0';
    const source = (await registerSimHost(t, `${name}-src`, where === 'source' ? hang : ok)).id as string;
    const target = (await registerSimHost(t, `${name}-dst`, where === 'target' ? hang : ok)).id as string;
    const created = assertAccepted(await alice().post('/v1/vms', { ...VM, name, hostId: source }));
    assert.equal((await waitOperation(t, created.operationId)).status, 'succeeded');
    const mig = assertAccepted(
      await t.as('admin').post(`/v1/vms/${created.vmId}/migrations`, { targetHostId: target, live: true }),
      created.vmId,
    );
    await waitFor(
      async () => {
        const op = (await alice().get(`/v1/operations/${mig.operationId}`)).body as Json;
        return (op.progress as Json | undefined)?.step === verb && op.status === 'running' ? op : undefined;
      },
      { what: `migration at ${verb}` },
    );
    return { vmId: created.vmId as string, operationId: mig.operationId, source, target };
  };

  for (const [where, verb] of [
    ['source', 'migrate'],
    ['target', 'prepareIncoming'],
  ] as const) {
    test(`a migration cancelled during ${verb}: the driver answers, cancelled by alice, the VM on its source only`, async () => {
      const m = await migrationHanging(`mig-${verb.toLowerCase()}`, where, verb);
      const res = await alice().delete(`/v1/operations/${m.operationId}?reason=wrong%20target`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      // Asked, not decided: the driver's answer closes it.
      assert.deepEqual((res.body as Json).cancelRequested, { by: 'alice', reason: 'wrong target' });
      const op = await waitOperation(t, m.operationId);
      assert.equal(op.status, 'cancelled', JSON.stringify(op));
      assert.deepEqual(op.cancelled, { by: 'alice', reason: 'wrong target' });
      const vm = await getVm(t, m.vmId);
      assert.equal(vm.state, 'running');
      assert.equal(vm.hostId, m.source);
      // The compensation aborted the target's incoming side: the VM runs on exactly one host.
      await waitFor(async () => ((await domainsOf(m.target, m.vmId)).length === 0 ? true : undefined), {
        what: 'target holds nothing of the VM',
      });
      assert.equal((await domainsOf(m.source, m.vmId)).length, 1);
    });
  }

  test('a migration handed off (hanging in finishIncoming): 409 too late, nothing appended', async () => {
    const m = await migrationHanging('mig-finish', 'target', 'finishIncoming');
    const before = await settledLogLength(t);
    assertError(await alice().delete(`/v1/operations/${m.operationId}`), 409, /too late to cancel/);
    assert.equal(await logLength(t), before, 'nothing appended');
  });

  test('a delete in flight cannot be cancelled: 409 saying so, nothing appended', async () => {
    const host = (await registerSimHost(t, 'hv-hang-destroy', 'simulated://?latencyMs=0&hangVerbs=destroy'))
      .id as string;
    const created = assertAccepted(await alice().post('/v1/vms', { ...VM, name: 'going', hostId: host }));
    assert.equal((await waitOperation(t, created.operationId)).status, 'succeeded');
    const del = assertAccepted(await alice().delete(`/v1/vms/${created.vmId}`));
    await running(del.operationId);
    const before = await settledLogLength(t);
    assertError(await alice().delete(`/v1/operations/${del.operationId}`), 409, /a delete cannot be cancelled/);
    assert.equal(await logLength(t), before, 'nothing appended');
  });

  test('a forced stop supersedes a graceful stop in flight (no 409 busy); a second forced stop is busy', async () => {
    const vmId = await runningVm();
    const graceful = assertAccepted(await alice().post(`/v1/vms/${vmId}/stop`, {}));
    await running(graceful.operationId);
    const forced = assertAccepted(await alice().post(`/v1/vms/${vmId}/stop`, { force: true }));

    const old = await waitOperation(t, graceful.operationId);
    assert.equal(old.status, 'cancelled');
    assert.deepEqual(old.cancelled, { by: 'alice', supersededBy: forced.operationId });
    const vm = await getVm(t, vmId);
    assert.equal((vm.pendingOperation as Json | null)?.id, forced.operationId);

    const busy = await alice().post(`/v1/vms/${vmId}/stop`, { force: true });
    assertError(busy, 409, forced.operationId);

    // This host hangs every stop: cancel the forced one too, and the VM is running again.
    await running(forced.operationId);
    assert.equal((await alice().delete(`/v1/operations/${forced.operationId}`)).body.status, 'cancelled');
    assert.equal((await getVm(t, vmId)).state, 'running');
  });
});
