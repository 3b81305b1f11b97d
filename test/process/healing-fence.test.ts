/**
 * Healing with real worker processes and real QEMU (TCG) on storage two hosts share:
 *
 * 1. kill -9 the QEMU of a VM with restartPolicy on-crash: the reconciler records the crash,
 *    healing schedules a restart naming it, the VM runs again (a new QEMU).
 * 2. kill -9 host A's worker (and the QEMU of one VM, as a dead machine would take it; the other
 *    VM's QEMU keeps running, as a partition would leave it): A reads unreachable; fencing a
 *    reachable host is refused; an admin fences A. The VM whose QEMU died is recovered on B at
 *    once (a `recover` operation with the placement evidence); the one whose QEMU still runs on A
 *    cannot start on B (QEMU's disk lock refuses a second writer: no split brain), and reads
 *    crashed there; the VM with restartPolicy never is not moved and reads crashed with the fence.
 *    Then a new worker for A: its reconciler force-stops the stale copy, healing restarts the VM
 *    on B, and every VM runs on exactly one host, as both drivers' listDomains say.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { registerHost, startTestApp, waitOperation, type TestApp } from '../support/app.js';
import { storeEvents } from '../support/e2e.js';
import { tempDir } from '../support/env.js';
import { waitFor } from '../support/wait.js';
import { alive, heartbeatsFrom, qemuPid as pidOf, runningOn as runsOn, WorkerFleet } from '../support/worker-fleet.js';

const DEAD_MS = 2000;
const hasQemu = spawnSync('qemu-system-x86_64', ['--version']).status === 0;

describe(
  'process: healing and fencing with real QEMU',
  { skip: !hasQemu && 'qemu-system-x86_64 is not installed' },
  () => {
    let t: TestApp;
    const shared = tempDir('vl-shared-');
    const fleet = new WorkerFleet(() => t, { HOST_DEAD_MS: String(DEAD_MS), RECONCILE_INTERVAL_MS: '1000' });
    let hostA = '';
    let hostB = '';

    const vm = async (id: string) => (await t.as('viewer').get(`/v1/vms/${id}`)).body;
    const host = async (id: string) => (await t.as('viewer').get(`/v1/hosts/${id}`)).body;
    const runningOn = (hostId: string, vmId: string) => runsOn(t, hostId, vmId);
    const qemuPid = (hostId: string, vmId: string) => pidOf(shared.dir, hostId, vmId);
    async function create(name: string, hostId: string, restartPolicy?: string): Promise<string> {
      const res = await t.as('operator').post('/v1/vms', {
        name,
        vcpus: 1,
        memoryMiB: 64,
        diskGiB: 1,
        hostId,
        ...(restartPolicy ? { restartPolicy } : {}),
      });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      const op = await waitOperation(t, res.body.operationId as string, 60000);
      assert.equal(op.status, 'succeeded', JSON.stringify(op));
      return res.body.vmId as string;
    }

    before(async () => {
      t = await startTestApp({
        env: {
          ROLE: 'api',
          HOST_DEAD_MS: String(DEAD_MS),
          JOB_ATTEMPTS: '1',
          HEALING_BACKOFF_MS: '300',
          HEALING_BACKOFF_MAX_MS: '1500',
          HEALING_MAX_RESTARTS: '50',
        },
      });
      const uri = `qemu:///system?storage=${shared.dir}&accel=tcg`;
      hostA = await registerHost(t, { name: 'heal-a', driver: 'qemu', uri, capacity: { vcpus: 8, memoryMiB: 4096 } });
      hostB = await registerHost(t, { name: 'heal-b', driver: 'qemu', uri, capacity: { vcpus: 8, memoryMiB: 4096 } });
    });
    after(async () => {
      fleet.killAll(shared.dir);
      await t?.close();
      shared.cleanup();
    });

    test(
      'a real QEMU crash of an on-crash VM is restarted; the restart names the crash',
      { timeout: 180000 },
      async () => {
        fleet.start(hostB);
        await heartbeatsFrom(t, [hostB]);
        await waitFor(async () => (await host(hostB)).state === 'active', { what: 'B active' });
        const id = await create('crashy', hostB, 'on-crash');
        assert.equal((await vm(id)).restartPolicy, 'on-crash');
        const first = qemuPid(hostB, id);
        process.kill(first, 'SIGKILL');
        const back = await waitFor(
          async () => {
            const v = await vm(id);
            return v.state === 'running' && qemuPid(hostB, id) !== first ? v : undefined;
          },
          { what: 'the VM restarted by healing', timeoutMs: 90000, intervalMs: 200 },
        );
        assert.equal(back.crash, null);
        const events = (await storeEvents(t)).filter((e) => e.streamId === `vm-${id}`);
        const crash = events.find((e) => e.type === 'VmCrashed');
        assert.ok(crash, 'the crash is recorded');
        const scheduled = events.filter((e) => e.type === 'VmRestartScheduled');
        assert.equal(scheduled.length, 1);
        assert.equal(scheduled[0]!.data.causeEventId, crash.id, 'the restart names the crash it answers');
        assert.equal(scheduled[0]!.data.attempt, 1);
        const restart = events.find((e) => e.type === 'VmStartRequested' && e.data.restart);
        assert.equal(restart?.data.operationId, scheduled[0]!.data.operationId);
        const op = await waitOperation(t, scheduled[0]!.data.operationId as string);
        assert.equal(op.kind, 'restart');
        assert.equal(op.status, 'succeeded');
      },
    );

    test(
      'kill -9 a worker, fence its host: VMs with restartPolicy run again on the other host, once; the stale copy is stopped when the host is back',
      { timeout: 300000 },
      async () => {
        const wA = fleet.start(hostA);
        await heartbeatsFrom(t, [hostA]);
        const dies = await create('dies-with-a', hostA, 'on-crash');
        const survives = await create('partitioned', hostA, 'always');
        const pinned = await create('no-policy', hostA);
        const survivorPid = qemuPid(hostA, survives);

        // The worker dies; the machine "loses" one QEMU (as a power cut would), the other keeps running.
        wA.kill('SIGKILL');
        process.kill(qemuPid(hostA, dies), 'SIGKILL');
        await waitFor(async () => (await host(hostA)).state === 'unreachable', {
          what: 'A unreachable',
          timeoutMs: 30000,
        });

        // Only an admin fences, and only an unreachable host.
        assert.equal((await t.as('operator').post(`/v1/hosts/${hostA}/fence`, {})).status, 403);
        const refused = await t.as('admin').post(`/v1/hosts/${hostB}/fence`, {});
        assert.equal(refused.status, 409, JSON.stringify(refused.body));
        assert.match(refused.body.message as string, /is reachable/);
        const fenced = await t.as('admin').post(`/v1/hosts/${hostA}/fence`, { reason: 'rack A lost power' });
        assert.equal(fenced.status, 200, JSON.stringify(fenced.body));
        assert.equal(fenced.body.state, 'fenced');
        assert.match(fenced.body.fenced.by, /^admin/);
        assert.equal(fenced.body.fenced.evidenceKind, 'admin');
        const again = await t.as('admin').post(`/v1/hosts/${hostA}/fence`, {});
        assert.equal(again.status, 200, 'fencing again changes nothing');

        // The VM whose QEMU died runs on B, through one recover operation with its placement evidence.
        await waitFor(async () => (await vm(dies)).state === 'running' && (await vm(dies)).hostId === hostB, {
          what: 'the dead VM recovered on B',
          timeoutMs: 90000,
          intervalMs: 200,
        });
        const all = await storeEvents(t);
        const recoveries = all.filter((e) => e.type === 'VmRecoveryRequested' && e.streamId === `vm-${dies}`);
        assert.equal(recoveries.length, 1);
        const fenceEvent = all.find((e) => e.type === 'HostFenced')!;
        assert.equal(recoveries[0]!.data.fenceId, fenceEvent.data.fenceId);
        const evidence = recoveries[0]!.data.evidence as { candidates: { hostId: string; verdict: string }[] };
        assert.deepEqual(evidence.candidates[0], { hostId: hostB, verdict: 'chosen' });
        const recoverOp = await waitOperation(t, recoveries[0]!.data.operationId as string);
        assert.equal(recoverOp.kind, 'recover');

        // No restartPolicy: not moved, reads crashed with the fence.
        const lost = await waitFor(async () => ((await vm(pinned)).state === 'crashed' ? vm(pinned) : undefined), {
          what: 'the VM without restartPolicy marked down with its host',
        });
        assert.equal(lost.hostId, hostA);
        assert.equal(lost.crash.fence.hostId, hostA);
        assert.match(lost.crash.reason, /restartPolicy is never/);

        // The partitioned VM still runs on A: B may not start a second copy (QEMU's disk lock), so it is down there.
        await waitFor(async () => (await vm(survives)).hostId === hostB && (await vm(survives)).state === 'crashed', {
          what: 'the partitioned VM re-placed on B and refused there',
          timeoutMs: 90000,
          intervalMs: 200,
        });
        assert.equal(await runningOn(hostB, survives), false, 'never two copies');
        assert.equal(alive(survivorPid), true, 'its QEMU still runs on A');

        // A comes back: its reconciler stops the stale copy, healing then starts the VM on B.
        fleet.start(hostA);
        await waitFor(async () => (await host(hostA)).state === 'active', { what: 'A heard again', timeoutMs: 90000 });
        await waitFor(async () => (await vm(survives)).state === 'running', {
          what: 'the partitioned VM running on B',
          timeoutMs: 120000,
          intervalMs: 250,
        });
        for (const id of [dies, survives]) {
          assert.equal((await vm(id)).hostId, hostB);
          assert.equal(await runningOn(hostB, id), true, `${id} runs on B`);
          assert.equal(await runningOn(hostA, id), false, `${id} does not run on A`);
        }
        assert.equal(alive(survivorPid), false, 'the stale QEMU on A is gone');
        const recoveredTwice = (await storeEvents(t)).filter((e) => e.type === 'VmRecoveryRequested');
        assert.equal(recoveredTwice.length, 2, 'one recovery per VM with a policy, never twice');
        assert.equal((await vm(pinned)).hostId, hostA, 'the VM without restartPolicy never moved');
      },
    );
  },
);
