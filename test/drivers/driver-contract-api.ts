import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { HostBinding, VmSpec } from '../../src/drivers/hypervisor-driver.port.js';
import { driverCapabilities } from '../../src/drivers/driver-registry.js';
import { logLength, startTestApp, waitOperation, type TestApp } from '../support/app.js';
import type { Job } from 'bullmq';
import { safeJobId } from '../../src/workers/queue-hub.js';
import { RESULTS_QUEUE, hostQueueName, type HostJobData } from '../../src/workers/job.types.js';
import { assertAccepted, assertError, getVm, vmEvents, waitSettled, waitUntil, type Json } from '../e2e/e2e-helpers.js';
import {
  TEST_TIMEOUT_MS,
  newVmId,
  undeclared,
  type ContractPlan,
  type OperationalCapability,
} from './driver-contract-support.js';

/** A real driver may need a while per step on a shared 2-core machine. */
const OPERATION_MS = 120_000;

interface ApiHost {
  binding: HostBinding;
  /** A host of the same kind that a VM here could be migrated to (for the migration refusals). */
  peer?: () => string;
}

/**
 * The same driver behind the real app (real Redis, real BullMQ workers, SQLite store): an
 * undeclared capability is refused with 422 before any event is written; a VM goes create →
 * start → stop → delete, and each declared capability is used once, with the driver's own
 * listing (GET /v1/hosts/{id}/domains) agreeing at each state; a redelivered job changes
 * nothing; a domain killed from outside is reported by the worker's sweep.
 */
export function apiContract(plan: ContractPlan): void {
  const { target } = plan;
  const opts = { timeout: TEST_TIMEOUT_MS };

  describe('API level (real app, real BullMQ workers)', () => {
    let t: TestApp;
    const tag = randomUUID().slice(0, 6);
    const registered: HostBinding[] = [];
    let main: ApiHost;
    let restricted: ApiHost | undefined;
    let otherKind: string | undefined;

    async function register(binding: HostBinding): Promise<HostBinding> {
      const res = await t.as('admin').post('/v1/hosts', {
        id: binding.id,
        name: binding.id,
        driver: binding.driver,
        uri: binding.uri,
        capacity: { vcpus: 16, memoryMiB: 16384 },
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      registered.push(binding);
      return binding;
    }

    /** Storage where the app's worker puts it, so the target's cleanup and the worker agree. */
    const storageOf = (id: string): string => join(t.dataDir, 'hosts', id);

    before(async () => {
      // A fast sweep, so a domain killed from outside is noticed within the test.
      t = await startTestApp({ env: { RECONCILE_INTERVAL_MS: '1000' } });
      // Host storage lives under the data dir; a hypervisor running as another user (libvirt's QEMU) must traverse it.
      chmodSync(t.dataDir, 0o711);
      const a = await register(await target.host(`api-${tag}-a`, storageOf(`api-${tag}-a`)));
      main = { binding: a };
      // A second host of the kind: the target of the declared migrations, or of the refused ones.
      const caps = plan.main.capabilities;
      const peerId = `api-${tag}-b`;
      const peer =
        (await target.secondHost?.(peerId, storageOf(peerId))) ??
        (caps.liveMigration && caps.coldMigration ? undefined : await target.host(peerId, storageOf(peerId)));
      if (peer) {
        await register(peer);
        main.peer = () => peer.id;
      }
      if (plan.restricted) {
        const id = `api-${tag}-r`;
        const r = await target.restrictedHost?.(id, storageOf(id));
        if (r) restricted = { binding: await register(r), peer: () => a.id };
      }
      // A host of another kind, for the one refusal every driver shares: no migration across kinds.
      const other =
        target.kind === 'simulated'
          ? { driver: 'qemu', uri: `qemu:///system?accel=tcg&storage=${storageOf(`api-${tag}-x`)}` }
          : { driver: 'simulated', uri: 'simulated://?latencyMs=0' };
      otherKind = (await register({ id: `api-${tag}-x`, storageDir: storageOf(`api-${tag}-x`), ...other })).id;
    });

    after(async () => {
      // Workers stopped first (nothing starts a VM meanwhile), then the target removes what runs
      // on its hosts while their files still say what that is, then the data dir goes.
      await t?.stop().catch(() => undefined);
      for (const b of registered) if (b.driver === target.kind) await target.cleanup?.(b);
      await t?.close().catch(() => undefined);
    });

    async function create(host: ApiHost, label: string, start: boolean): Promise<string> {
      const s: VmSpec = target.spec(newVmId(label));
      const res = await t.as('operator').post('/v1/vms', { ...createBody(s), hostId: host.binding.id, start });
      const { operationId, vmId } = assertAccepted(res);
      const op = await waitOperation(t, operationId, OPERATION_MS);
      assert.equal(op.status, 'succeeded', `create on ${host.binding.id}: ${JSON.stringify(op)}`);
      return vmId;
    }

    async function run(path: string, body: object | undefined, method: 'post' | 'delete' = 'post'): Promise<void> {
      const res = method === 'post' ? await t.as('operator').post(path, body) : await t.as('operator').delete(path);
      const { operationId } = assertAccepted(res);
      const op = await waitOperation(t, operationId, OPERATION_MS);
      assert.equal(op.status, 'succeeded', `${method} ${path}: ${JSON.stringify(op)}`);
    }

    /** What the driver itself reports for the VM, through GET /v1/hosts/{id}/domains. */
    async function domainState(hostId: string, vmId: string): Promise<string | undefined> {
      const res = await t.as('operator').get(`/v1/hosts/${hostId}/domains`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return (res.body.items as Json[]).find((d) => d.vmId === vmId && d.managed)?.state as string | undefined;
    }

    async function expectState(hostId: string, vmId: string, state: string): Promise<void> {
      const vm = await getVm(t, vmId);
      assert.equal(vm.state, state, `VM ${vmId}: ${JSON.stringify(vm)}`);
      const real = await domainState(hostId, vmId);
      assert.equal(real, state === 'deleted' ? undefined : state, `the driver's listing of ${vmId} on ${hostId}`);
    }

    test('each registered host shows the capabilities its driver declares', opts, async () => {
      for (const b of registered) {
        const res = await t.as('viewer').get(`/v1/hosts/${b.id}`);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        assert.deepEqual(res.body.capabilities, { ...driverCapabilities(b.driver, b.uri) }, b.uri);
      }
    });

    test(
      'create → start → stop → delete through real workers reaches each state; the driver agrees',
      opts,
      async () => {
        const hostId = main.binding.id;
        const vmId = await create(main, 'api-life', false);
        assert.equal((await getVm(t, vmId)).hostId, hostId);
        await expectState(hostId, vmId, 'stopped');
        await run(`/v1/vms/${vmId}/start`, {});
        await expectState(hostId, vmId, 'running');
        await run(`/v1/vms/${vmId}/stop`, { force: false, timeoutMs: 1500 });
        await expectState(hostId, vmId, 'stopped');
        await run(`/v1/vms/${vmId}`, undefined, 'delete');
        await expectState(hostId, vmId, 'deleted');
        const types = (await vmEvents(t, vmId)).map((e) => e.type as string);
        const milestones = ['VmCreateRequested', 'VmDefined', 'VmStarted', 'VmStopped', 'VmDeleted'];
        const positions = milestones.map((m) => types.indexOf(m));
        assert.ok(
          positions.every((p, i) => p >= 0 && (i === 0 || p > positions[i - 1]!)),
          `milestones out of order: ${types.join(', ')}`,
        );
      },
    );

    test(
      "a domain killed from outside becomes VmCrashed (stopped) through the host worker's sweep, and starts again",
      opts,
      async () => {
        const hostId = main.binding.id;
        const vmId = await create(main, 'api-kill', true);
        await target.killFromOutside(main.binding, vmId);
        await waitUntil(
          'the VM to be reported crashed',
          async () => (await getVm(t, vmId)).state === 'stopped',
          60_000,
        );
        const crashed = (await vmEvents(t, vmId)).filter((e) => e.type === 'VmCrashed');
        assert.equal(crashed.length, 1, 'one VmCrashed');
        await run(`/v1/vms/${vmId}/start`, {});
        await expectState(hostId, vmId, 'running');
        await run(`/v1/vms/${vmId}`, undefined, 'delete');
        await expectState(hostId, vmId, 'deleted');
      },
    );

    test('each declared capability but migration works through the API and real workers', opts, async (t2) => {
      const caps = plan.main.capabilities;
      const hostId = main.binding.id;
      const vmId = await create(main, 'api-caps', true);
      const vmPath = `/v1/vms/${vmId}`;
      const done: string[] = [];
      if (caps.reboot) {
        await run(`${vmPath}/reboot`, {});
        await expectState(hostId, vmId, 'running');
        done.push('reboot');
      }
      if (caps.pause) {
        await run(`${vmPath}/pause`, {});
        await expectState(hostId, vmId, 'paused');
        await run(`${vmPath}/resume`, {});
        await expectState(hostId, vmId, 'running');
        done.push('pause');
      }
      if (caps.memorySnapshots) {
        await run(`${vmPath}/snapshots`, { name: 'api-mem', memory: true });
        if (caps.pause) await run(`${vmPath}/pause`, {});
        await run(`${vmPath}/snapshots/api-mem/revert`, {});
        await expectState(hostId, vmId, 'running');
        await run(`${vmPath}/snapshots/api-mem`, undefined, 'delete');
        done.push('memorySnapshots');
      }
      if (caps.diskSnapshots) {
        await run(`${vmPath}/stop`, { force: true });
        await run(`${vmPath}/snapshots`, { name: 'api-disk', memory: false });
        assert.deepEqual(
          ((await getVm(t, vmId)).snapshots as Json[]).map((x) => x.name),
          ['api-disk'],
        );
        await run(`${vmPath}/snapshots/api-disk/revert`, {});
        await expectState(hostId, vmId, 'stopped');
        await run(`${vmPath}/snapshots/api-disk`, undefined, 'delete');
        assert.deepEqual((await getVm(t, vmId)).snapshots, []);
        done.push('diskSnapshots');
      }
      await run(vmPath, undefined, 'delete');
      await expectState(hostId, vmId, 'deleted');
      t2.diagnostic(`exercised: ${done.join(', ') || 'none'}`);
    });

    const declaredMoves = (['liveMigration', 'coldMigration'] as const).filter((c) => plan.main.capabilities[c]);
    const noMoves =
      declaredMoves.length === 0
        ? 'no migration declared'
        : plan.target.secondHost
          ? false
          : `no second ${plan.target.kind} host on this machine`;
    test(
      `each declared migration (${declaredMoves.join(', ') || 'none'}) to the second host through the API`,
      { ...opts, skip: noMoves },
      async () => {
        const hostId = main.binding.id;
        const peer = main.peer?.();
        assert.ok(peer, 'the second host is registered');
        // One VM each, both from the first host to the second: the suite never asks for the way back.
        if (plan.main.capabilities.liveMigration) {
          const vmId = await create(main, 'api-live', true);
          await run(`/v1/vms/${vmId}/migrations`, { targetHostId: peer, live: true });
          assert.equal((await getVm(t, vmId)).hostId, peer);
          await expectState(peer, vmId, 'running');
          assert.equal(await domainState(hostId, vmId), undefined, 'the source no longer has it');
          await run(`/v1/vms/${vmId}`, undefined, 'delete');
          await expectState(peer, vmId, 'deleted');
        }
        if (plan.main.capabilities.coldMigration) {
          const vmId = await create(main, 'api-cold', false);
          await run(`/v1/vms/${vmId}/migrations`, { targetHostId: peer, live: false });
          assert.equal((await getVm(t, vmId)).hostId, peer);
          await expectState(peer, vmId, 'stopped');
          assert.equal(await domainState(hostId, vmId), undefined, 'the source no longer has it');
          await run(`/v1/vms/${vmId}/start`, {});
          await expectState(peer, vmId, 'running');
          await run(`/v1/vms/${vmId}`, undefined, 'delete');
          await expectState(peer, vmId, 'deleted');
        }
      },
    );

    /** The host job that ran `step` for an operation (BullMQ keeps finished jobs). */
    async function jobOf(hostId: string, operationId: string, step: string): Promise<Job<HostJobData>> {
      const queue = t.runtime.hub.queue(hostQueueName(hostId));
      const jobs = (await queue.getJobs(['completed'], 0, 1000)) as Array<Job<HostJobData>>;
      const job = jobs.find((j) => j?.data.operationId === operationId && j.data.step === step);
      assert.ok(job, `no completed ${step} job for operation ${operationId} on ${hostId}`);
      return job;
    }

    /**
     * Runs a finished job's data again under a new job id, as BullMQ does when a stalled job is
     * handed to another worker: the driver call must succeed without changing anything, and the
     * decider must refuse its second result, so the log does not grow.
     */
    async function redeliver(hostId: string, operationId: string, step: string): Promise<void> {
      const job = await jobOf(hostId, operationId, step);
      await waitSettled(
        t,
        registered.map((b) => b.id),
      );
      const length = await logLength(t);
      const id = `${job.id}-redelivered`;
      await t.runtime.hub.enqueueHostJob(hostId, id, job.data);
      // The job itself completes either way (a final failure is reported, not thrown): what the
      // worker posted on the results queue says whether the driver call succeeded.
      const results = t.runtime.hub.queue(RESULTS_QUEUE);
      const outcome = await waitUntil(
        `the redelivered ${step} job's result`,
        async () => {
          const failed = await results.getJob(safeJobId(`${id}.failed`));
          if (failed) return `failed: ${(failed.data as { reason?: string }).reason}`;
          return (await results.getJob(safeJobId(`${id}.ok`))) ? 'ok' : undefined;
        },
        OPERATION_MS,
      );
      assert.equal(outcome, 'ok', `the driver refused a redelivered ${step}`);
      await waitSettled(
        t,
        registered.map((b) => b.id),
      );
      assert.equal(await logLength(t), length, `a redelivered ${step} appended events`);
    }

    test('a redelivered job (start, stop, destroy) changes neither the driver state nor the log', opts, async () => {
      const hostId = main.binding.id;
      const create = await t
        .as('operator')
        .post('/v1/vms', { ...createBody(target.spec(newVmId('api-redo'))), hostId });
      const { operationId, vmId } = assertAccepted(create);
      assert.equal((await waitOperation(t, operationId, OPERATION_MS)).status, 'succeeded');
      await redeliver(hostId, operationId, 'start');
      await expectState(hostId, vmId, 'running');

      const stop = assertAccepted(await t.as('operator').post(`/v1/vms/${vmId}/stop`, { force: true }));
      assert.equal((await waitOperation(t, stop.operationId, OPERATION_MS)).status, 'succeeded');
      await redeliver(hostId, stop.operationId, 'stop');
      await expectState(hostId, vmId, 'stopped');

      const del = assertAccepted(await t.as('operator').delete(`/v1/vms/${vmId}`));
      assert.equal((await waitOperation(t, del.operationId, OPERATION_MS)).status, 'succeeded');
      await redeliver(hostId, del.operationId, 'destroy');
      await expectState(hostId, vmId, 'deleted');
    });

    /** A VM per host and state, made once and shared by the refusal tests (nothing they do changes it). */
    const vms = new Map<string, Promise<string>>();
    function vmIn(host: ApiHost, state: 'running' | 'stopped'): Promise<string> {
      const key = `${host.binding.id}:${state}`;
      if (!vms.has(key)) vms.set(key, create(host, `api-${state.slice(0, 3)}`, state === 'running'));
      return vms.get(key)!;
    }

    async function refused(host: ApiHost, cap: OperationalCapability): Promise<void> {
      const running = cap !== 'diskSnapshots' && cap !== 'coldMigration';
      const vmId = await vmIn(host, running ? 'running' : 'stopped');
      const { path, body } = REFUSAL[cap](vmId, host.peer?.());
      await waitSettled(t, [...registered.map((b) => b.id)]);
      const length = await logLength(t);
      const revision = (await getVm(t, vmId)).revision;
      const res = await t.as('operator').post(path, body);
      assertError(res, 422);
      assert.equal(await logLength(t), length, 'a refused command appends nothing');
      const vm = await getVm(t, vmId);
      assert.equal(vm.revision, revision);
      assert.equal(vm.state, running ? 'running' : 'stopped');
    }

    const missing = undeclared(plan.main.capabilities);
    for (const cap of missing) {
      test(`${cap} is not declared by ${plan.main.binding.uri}: 422 at the API, no event`, opts, () =>
        refused(main, cap),
      );
    }
    if (missing.length === 0) {
      test('undeclared capabilities → 422', { skip: `${plan.main.binding.uri} declares every capability` });
    }
    if (plan.restricted) {
      for (const cap of undeclared(plan.restricted.capabilities)) {
        test(`${cap} is not declared by the restricted host ${plan.restricted.binding.uri}: 422, no event`, opts, () =>
          refused(restricted!, cap),
        );
      }
    }

    test('a migration to a host of another driver kind is refused with 422, no event', opts, async () => {
      const vmId = await vmIn(main, 'running');
      await waitSettled(t, [...registered.map((b) => b.id)]);
      const length = await logLength(t);
      const res = await t.as('operator').post(`/v1/vms/${vmId}/migrations`, { targetHostId: otherKind, live: true });
      assertError(res, 422);
      assert.equal(await logLength(t), length, 'a refused command appends nothing');
    });
  });
}

/** POST /v1/vms body for the target's spec (the API picks the VM id). */
function createBody(s: VmSpec): Json {
  return {
    name: s.name,
    vcpus: s.vcpus,
    memoryMiB: s.memoryMiB,
    diskGiB: s.diskGiB,
    ...(s.image ? { image: s.image } : {}),
  };
}

const REFUSAL: Record<OperationalCapability, (vmId: string, peer?: string) => { path: string; body: object }> = {
  pause: (id) => ({ path: `/v1/vms/${id}/pause`, body: {} }),
  reboot: (id) => ({ path: `/v1/vms/${id}/reboot`, body: {} }),
  memorySnapshots: (id) => ({ path: `/v1/vms/${id}/snapshots`, body: { name: 'refused', memory: true } }),
  diskSnapshots: (id) => ({ path: `/v1/vms/${id}/snapshots`, body: { name: 'refused', memory: false } }),
  liveMigration: (id, peer) => ({ path: `/v1/vms/${id}/migrations`, body: { targetHostId: peer, live: true } }),
  coldMigration: (id, peer) => ({ path: `/v1/vms/${id}/migrations`, body: { targetHostId: peer, live: false } }),
};
