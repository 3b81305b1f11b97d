import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { HostBinding } from '../../src/drivers/hypervisor-driver.port.js';
import { driverCapabilities } from '../../src/drivers/driver-registry.js';
import { assertError, getVm, vmEvents, waitUntil, type Json } from '../support/e2e.js';
import { ContractApp } from './driver-contract-app.js';
import {
  TEST_TIMEOUT_MS,
  undeclared,
  type ContractPlan,
  type OperationalCapability,
} from './driver-contract-support.js';

/** A host registered with the app, and a host of the same kind a VM there could be migrated to. */
interface ApiHost {
  binding: HostBinding;
  peer?: string;
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
  const caps = plan.main.capabilities;
  const opts = { timeout: TEST_TIMEOUT_MS };

  describe('API level (real app, real BullMQ workers)', () => {
    let app: ContractApp;
    const tag = randomUUID().slice(0, 6);
    let main: ApiHost;
    let restricted: ApiHost | undefined;
    let otherKind: string;

    before(async () => {
      app = await ContractApp.start(target);
      const id = (suffix: string): string => `api-${tag}-${suffix}`;
      const a = await app.register(await target.host(id('a'), app.storageOf(id('a'))));
      main = { binding: a };
      // A second host of the kind: the target of the declared migrations, or of the refused ones.
      const peer =
        (await target.secondHost?.(id('b'), app.storageOf(id('b')))) ??
        (caps.liveMigration && caps.coldMigration ? undefined : await target.host(id('b'), app.storageOf(id('b'))));
      if (peer) main.peer = (await app.register(peer)).id;
      const r = plan.restricted ? await target.restrictedHost?.(id('r'), app.storageOf(id('r'))) : undefined;
      if (r) restricted = { binding: await app.register(r), peer: a.id };
      // A host of another kind, for the one refusal every driver shares: no migration across kinds.
      const other =
        target.kind === 'simulated'
          ? { driver: 'qemu', uri: `qemu:///system?accel=tcg&storage=${app.storageOf(id('x'))}` }
          : { driver: 'simulated', uri: 'simulated://?latencyMs=0' };
      otherKind = (await app.register({ id: id('x'), storageDir: app.storageOf(id('x')), ...other })).id;
    });

    after(async () => {
      await app?.close();
    });

    test('each registered host shows the capabilities its driver declares', opts, async () => {
      for (const b of app.registered) {
        const res = await app.t.as('viewer').get(`/v1/hosts/${b.id}`);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        assert.deepEqual(res.body.capabilities, { ...driverCapabilities(b.driver, b.uri) }, b.uri);
      }
    });

    test(
      'create → start → stop → delete through real workers reaches each state; the driver agrees',
      opts,
      async () => {
        const hostId = main.binding.id;
        const { vmId } = await app.create(hostId, 'api-life', false);
        assert.equal((await getVm(app.t, vmId)).hostId, hostId);
        await app.expectState(hostId, vmId, 'stopped');
        await app.run(`/v1/vms/${vmId}/start`, {});
        await app.expectState(hostId, vmId, 'running');
        await app.run(`/v1/vms/${vmId}/stop`, { force: false, timeoutMs: 1500 });
        await app.expectState(hostId, vmId, 'stopped');
        await app.run(`/v1/vms/${vmId}`, undefined, 'delete');
        await app.expectState(hostId, vmId, 'deleted');
        const types = (await vmEvents(app.t, vmId)).map((e) => e.type as string);
        const milestones = ['VmCreateRequested', 'VmDefined', 'VmStarted', 'VmStopped', 'VmDeleted'];
        const positions = milestones.map((m) => types.indexOf(m));
        assert.ok(
          positions.every((p, i) => p >= 0 && (i === 0 || p > positions[i - 1]!)),
          `milestones out of order: ${types.join(', ')}`,
        );
      },
    );

    test(
      'a redelivered job (define and start, stop, destroy) changes neither the driver state nor the log',
      opts,
      async () => {
        const hostId = main.binding.id;
        const { vmId, operationId } = await app.create(hostId, 'api-redo', true);
        // A create that starts the VM is one define job that starts it too: both verbs run again.
        await app.redeliver(hostId, operationId, 'define');
        await app.expectState(hostId, vmId, 'running');
        const stop = await app.run(`/v1/vms/${vmId}/stop`, { force: true });
        await app.redeliver(hostId, stop, 'stop');
        await app.expectState(hostId, vmId, 'stopped');
        const del = await app.run(`/v1/vms/${vmId}`, undefined, 'delete');
        await app.redeliver(hostId, del, 'destroy');
        await app.expectState(hostId, vmId, 'deleted');
      },
    );

    test(
      "a domain killed from outside becomes VmCrashed (crashed) through the worker's sweep, and starts again",
      opts,
      async () => {
        const hostId = main.binding.id;
        const { vmId } = await app.create(hostId, 'api-kill', true);
        await target.killFromOutside(main.binding, vmId);
        await waitUntil(
          'the VM to be reported crashed',
          async () => (await getVm(app.t, vmId)).state === 'crashed',
          60_000,
        );
        const crashed = (await vmEvents(app.t, vmId)).filter((e) => e.type === 'VmCrashed');
        assert.equal(crashed.length, 1, 'one VmCrashed');
        await app.run(`/v1/vms/${vmId}/start`, {});
        await app.expectState(hostId, vmId, 'running');
        await app.run(`/v1/vms/${vmId}`, undefined, 'delete');
        await app.expectState(hostId, vmId, 'deleted');
      },
    );

    test('each declared capability but migration works through the API and real workers', opts, async (ctx) => {
      const hostId = main.binding.id;
      const { vmId } = await app.create(hostId, 'api-caps', true);
      const vm = `/v1/vms/${vmId}`;
      const done: string[] = [];
      if (caps.reboot) {
        await app.run(`${vm}/reboot`, {});
        await app.expectState(hostId, vmId, 'running');
        done.push('reboot');
      }
      if (caps.pause) {
        await app.run(`${vm}/pause`, {});
        await app.expectState(hostId, vmId, 'paused');
        await app.run(`${vm}/resume`, {});
        await app.expectState(hostId, vmId, 'running');
        done.push('pause');
      }
      if (caps.memorySnapshots) {
        await app.run(`${vm}/snapshots`, { name: 'api-mem', memory: true });
        if (caps.pause) await app.run(`${vm}/pause`, {});
        await app.run(`${vm}/snapshots/api-mem/revert`, {});
        await app.expectState(hostId, vmId, 'running');
        await app.run(`${vm}/snapshots/api-mem`, undefined, 'delete');
        done.push('memorySnapshots');
      }
      if (caps.diskSnapshots) {
        await app.run(`${vm}/stop`, { force: true });
        await app.run(`${vm}/snapshots`, { name: 'api-disk', memory: false });
        const names = ((await getVm(app.t, vmId)).snapshots as Json[]).map((x) => x.name);
        assert.deepEqual(names, ['api-disk']);
        await app.run(`${vm}/snapshots/api-disk/revert`, {});
        await app.expectState(hostId, vmId, 'stopped');
        await app.run(`${vm}/snapshots/api-disk`, undefined, 'delete');
        assert.deepEqual((await getVm(app.t, vmId)).snapshots, []);
        done.push('diskSnapshots');
      }
      await app.run(vm, undefined, 'delete');
      await app.expectState(hostId, vmId, 'deleted');
      ctx.diagnostic(`exercised: ${done.join(', ') || 'none'}`);
    });

    const moves = (['liveMigration', 'coldMigration'] as const).filter((c) => caps[c]);
    const noMoves =
      moves.length === 0 ? 'no migration declared' : target.secondHost ? false : `no second ${target.kind} host here`;
    test(
      `each declared migration (${moves.join(', ') || 'none'}) to the second host through the API`,
      { ...opts, skip: noMoves },
      async () => {
        const hostId = main.binding.id;
        const peer = main.peer;
        assert.ok(peer, 'the second host is registered');
        // One VM each, both from the first host to the second: the suite never asks for the way back.
        for (const live of moves.map((m) => m === 'liveMigration')) {
          const { vmId } = await app.create(hostId, live ? 'api-live' : 'api-cold', live);
          await app.run(`/v1/vms/${vmId}/migrations`, { targetHostId: peer, live });
          assert.equal((await getVm(app.t, vmId)).hostId, peer);
          await app.expectState(peer, vmId, live ? 'running' : 'stopped');
          assert.equal(await app.domainState(hostId, vmId), undefined, 'the source no longer has it');
          if (!live) {
            await app.run(`/v1/vms/${vmId}/start`, {});
            await app.expectState(peer, vmId, 'running');
          }
          await app.run(`/v1/vms/${vmId}`, undefined, 'delete');
          await app.expectState(peer, vmId, 'deleted');
        }
      },
    );

    /** A VM per host and state, made once and shared by the refusal tests (nothing they do changes it). */
    const vms = new Map<string, Promise<string>>();
    function vmIn(host: ApiHost, state: 'running' | 'stopped'): Promise<string> {
      const key = `${host.binding.id}:${state}`;
      if (!vms.has(key)) {
        vms.set(
          key,
          app.create(host.binding.id, `api-${state.slice(0, 3)}`, state === 'running').then((c) => c.vmId),
        );
      }
      return vms.get(key)!;
    }

    /** The command is refused with 422, the log does not grow, the VM is as it was. */
    async function refused(vmId: string, path: string, body: object, state: string): Promise<void> {
      const length = await app.settledLogLength();
      const revision = (await getVm(app.t, vmId)).revision;
      assertError(await app.t.as('operator').post(path, body), 422);
      assert.equal(await app.settledLogLength(), length, 'a refused command appends nothing');
      const vm = await getVm(app.t, vmId);
      assert.equal(vm.revision, revision);
      assert.equal(vm.state, state);
    }

    async function refusedCapability(host: ApiHost, cap: OperationalCapability): Promise<void> {
      const state = cap === 'diskSnapshots' || cap === 'coldMigration' ? 'stopped' : 'running';
      const vmId = await vmIn(host, state);
      const { path, body } = REFUSAL[cap](vmId, host.peer);
      await refused(vmId, path, body, state);
    }

    const missing = undeclared(caps);
    for (const cap of missing) {
      test(`${cap} is not declared by ${plan.main.binding.uri}: 422 at the API, no event`, opts, () =>
        refusedCapability(main, cap),
      );
    }
    if (missing.length === 0) {
      test('undeclared capabilities → 422', { skip: `${plan.main.binding.uri} declares every capability` });
    }
    if (plan.restricted) {
      for (const cap of undeclared(plan.restricted.capabilities)) {
        test(`${cap} is not declared by the restricted host ${plan.restricted.binding.uri}: 422, no event`, opts, () =>
          refusedCapability(restricted!, cap),
        );
      }
    }

    test('a migration to a host of another driver kind is refused with 422, no event', opts, async () => {
      const vmId = await vmIn(main, 'running');
      await refused(vmId, `/v1/vms/${vmId}/migrations`, { targetHostId: otherKind, live: true }, 'running');
    });
  });
}

const REFUSAL: Record<OperationalCapability, (vmId: string, peer?: string) => { path: string; body: object }> = {
  pause: (id) => ({ path: `/v1/vms/${id}/pause`, body: {} }),
  reboot: (id) => ({ path: `/v1/vms/${id}/reboot`, body: {} }),
  memorySnapshots: (id) => ({ path: `/v1/vms/${id}/snapshots`, body: { name: 'refused', memory: true } }),
  diskSnapshots: (id) => ({ path: `/v1/vms/${id}/snapshots`, body: { name: 'refused', memory: false } }),
  liveMigration: (id, peer) => ({ path: `/v1/vms/${id}/migrations`, body: { targetHostId: peer, live: true } }),
  coldMigration: (id, peer) => ({ path: `/v1/vms/${id}/migrations`, body: { targetHostId: peer, live: false } }),
};
