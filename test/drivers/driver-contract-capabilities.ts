import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import {
  DriverError,
  type HypervisorDriver,
  type Progress,
  type VmSpec,
} from '../../src/drivers/hypervisor-driver.port.js';
import {
  DriverSet,
  TEST_TIMEOUT_MS,
  assertListed,
  assertNotListed,
  assertState,
  rejectsWithCode,
  rejectsWithDriverError,
  type ContractPlan,
  type SpecFn,
} from './driver-contract-support.js';

/**
 * Prepared, not received: nothing usable on the target yet. 'migrating' where the driver made
 * something (an incoming QEMU), 'absent' where it only reserved a name or receives in one step.
 */
async function assertPrepared(d: HypervisorDriver, vm: VmSpec): Promise<void> {
  const { state } = await d.status(vm);
  assert.ok(state === 'migrating' || state === 'absent', `${vm.id} after prepareIncoming: ${state}`);
}

function assertDriverError(err: unknown): void {
  assert.ok(err instanceof DriverError, `expected a DriverError, got ${String(err)}`);
}

const opts = { timeout: TEST_TIMEOUT_MS };
/** As in the lifecycle test: enough for a guest that answers ACPI, waited out by one that does not. */
const GRACEFUL_MS = 1_500;

async function snapshotNames(d: HypervisorDriver, vm: VmSpec): Promise<string[]> {
  return (await d.listSnapshots(vm)).map((s) => s.name);
}

/** Each declared capability, exercised on the main host (and the second one for migrations). */
export function capabilityTests(plan: ContractPlan, a: () => HypervisorDriver, spec: SpecFn, drivers: DriverSet): void {
  const caps = plan.main.capabilities;
  const second = plan.second;
  let b: HypervisorDriver | undefined;
  before(() => {
    if (second) b = drivers.open(second.binding);
  });
  const onB = (): HypervisorDriver => {
    assert.ok(b, 'no second host');
    return b;
  };

  if (caps.reboot) {
    test('reboot (declared): a running VM stays running; a stopped one is a conflict', opts, async () => {
      const d = a();
      const vm = spec('reboot');
      await d.define(vm);
      await rejectsWithCode(d.reboot(vm), 'conflict', 'reboot of a stopped VM');
      await d.start(vm);
      await d.reboot(vm);
      await assertState(d, vm, 'running');
      await d.reboot(vm);
      await assertState(d, vm, 'running');
      await d.destroy(vm);
    });
  }

  if (caps.pause) {
    test(
      'pause and resume (declared), each repeated; a stopped VM cannot pause; a paused one stops (graceful, force) and is destroyed',
      opts,
      async () => {
        const d = a();
        const vm = spec('pause');
        await d.define(vm);
        await rejectsWithCode(d.pause(vm), 'conflict', 'pause of a stopped VM');
        await d.start(vm);
        await d.pause(vm);
        await assertState(d, vm, 'paused');
        await d.pause(vm);
        await assertState(d, vm, 'paused');
        await assertListed(d, vm.id, 'paused');
        await d.resume(vm);
        await assertState(d, vm, 'running');
        await d.resume(vm);
        await assertState(d, vm, 'running');
        // The API stops a paused VM, gracefully unless told otherwise; a frozen guest cannot answer.
        await d.pause(vm);
        await d.stop(vm, { force: false, timeoutMs: GRACEFUL_MS });
        await assertState(d, vm, 'stopped');
        await d.start(vm);
        await d.pause(vm);
        await d.stop(vm, { force: true });
        await assertState(d, vm, 'stopped');
        await d.start(vm);
        await d.pause(vm);
        await d.destroy(vm);
        await assertState(d, vm, 'absent');
        await assertNotListed(d, vm.id);
      },
    );
  }

  if (caps.diskSnapshots) {
    test('disk snapshot (declared) of a stopped VM: take twice, list, revert, delete twice', opts, async () => {
      const d = a();
      const vm = spec('dsnap');
      await d.define(vm);
      const taken = await d.snapshot(vm, 'disk1', { memory: false });
      assert.equal(taken.name, 'disk1');
      assert.equal(taken.memory, false);
      const retried = await d.snapshot(vm, 'disk1', { memory: false });
      assert.equal(retried.name, 'disk1', 'a redelivered snapshot answers the snapshot it took');
      assert.equal(retried.memory, false);
      assert.deepEqual(await snapshotNames(d, vm), ['disk1']);
      await assertState(d, vm, 'stopped');

      assert.equal(await d.revert(vm, 'disk1'), 'stopped');
      await assertState(d, vm, 'stopped');
      await rejectsWithCode(d.revert(vm, 'missing'), 'not_found', 'revert to an unknown snapshot');

      await d.deleteSnapshot(vm, 'disk1');
      await d.deleteSnapshot(vm, 'disk1');
      assert.deepEqual(await snapshotNames(d, vm), []);
      await d.deleteSnapshot(vm, 'never-taken');

      // A VM re-created under the same id starts without the snapshots of the one destroyed.
      await d.snapshot(vm, 'old-life', { memory: false });
      await d.destroy(vm);
      await d.define(vm);
      assert.deepEqual(await snapshotNames(d, vm), []);
      await d.destroy(vm);
    });
  }

  if (caps.diskSnapshots) {
    test(
      'disk snapshot (declared) of a running VM: taken without stopping it; revert ends as reported; delete',
      opts,
      async () => {
        const d = a();
        const vm = spec('dsnaplive');
        await d.define(vm);
        await d.start(vm);
        const taken = await d.snapshot(vm, 'live1', { memory: false });
        assert.equal(taken.memory, false);
        await assertState(d, vm, 'running');
        const retried = await d.snapshot(vm, 'live1', { memory: false });
        assert.equal(retried.name, 'live1', 'a redelivered snapshot answers the snapshot it took');
        await d.snapshot(vm, 'live2', { memory: false });
        assert.deepEqual(await snapshotNames(d, vm), ['live1', 'live2']);
        await assertState(d, vm, 'running');
        // Without memory there is no running machine to restore: a driver stops the VM or boots it
        // again on the restored disk, and says which.
        const after = await d.revert(vm, 'live1');
        assert.ok(after === 'stopped' || after === 'running', `after revert: ${after}`);
        await assertState(d, vm, after);
        if (after === 'stopped') await d.start(vm);
        // The older snapshot goes while the VM runs; the newer one, built on it, stays revertable.
        await d.deleteSnapshot(vm, 'live1');
        assert.deepEqual(await snapshotNames(d, vm), ['live2']);
        await assertState(d, vm, 'running');
        assert.equal(await d.revert(vm, 'live2'), after);
        await d.deleteSnapshot(vm, 'live2');
        assert.deepEqual(await snapshotNames(d, vm), []);
        await d.destroy(vm);
      },
    );
  }

  if (caps.memorySnapshots) {
    test('memory snapshot (declared) of a running VM reverts to running, from paused or stopped', opts, async () => {
      const d = a();
      const vm = spec('msnap');
      await d.define(vm);
      await d.start(vm);
      const taken = await d.snapshot(vm, 'mem1', { memory: true });
      assert.equal(taken.name, 'mem1');
      assert.equal(taken.memory, true);
      await assertState(d, vm, 'running');
      const retried = await d.snapshot(vm, 'mem1', { memory: true });
      assert.equal(retried.memory, true, 'a redelivered snapshot answers the snapshot it took');
      assert.deepEqual(
        (await d.listSnapshots(vm)).map((s) => [s.name, s.memory]),
        [['mem1', true]],
      );
      // Paused after the save, so "running" after the revert can only come from the snapshot.
      if (caps.pause) await d.pause(vm);
      assert.equal(await d.revert(vm, 'mem1'), 'running');
      await assertState(d, vm, 'running');
      // From a stopped VM too: the snapshot holds a running machine, so that is what comes back.
      await d.stop(vm, { force: true });
      assert.equal(await d.revert(vm, 'mem1'), 'running');
      await assertState(d, vm, 'running');
      await d.deleteSnapshot(vm, 'mem1');
      assert.deepEqual(await snapshotNames(d, vm), []);
      await assertState(d, vm, 'running');
      await d.destroy(vm);
    });
  }

  if (caps.memorySnapshots && caps.diskSnapshots) {
    test('a snapshot name reused for a different kind of snapshot is a conflict', opts, async () => {
      const d = a();
      const vm = spec('reuse');
      await d.define(vm);
      await d.snapshot(vm, 'same', { memory: false });
      await d.start(vm);
      await rejectsWithCode(d.snapshot(vm, 'same', { memory: true }), 'conflict', 'memory snapshot over a disk one');
      await d.snapshot(vm, 'mem', { memory: true });
      // Stopped first: a driver may take disk-only snapshots of a stopped VM only (the port allows that).
      await d.stop(vm, { force: true });
      await rejectsWithCode(d.snapshot(vm, 'mem', { memory: false }), 'conflict', 'disk snapshot over a memory one');
      // The port does not order listSnapshots.
      const listed = (await d.listSnapshots(vm)).map((s) => [s.name, s.memory]).sort();
      assert.deepEqual(listed, [
        ['mem', true],
        ['same', false],
      ]);
      await d.destroy(vm);
    });
  }

  const noSecond = second ? false : `no second ${plan.target.kind} host on this machine`;

  if (caps.liveMigration) {
    test(
      'live migration (declared) to the second host, each step repeated; a bogus endpoint fails',
      { ...opts, skip: noSecond },
      async () => {
        const src = a();
        const dst = onB();
        const vm = spec('live');
        await src.define(vm);
        await src.start(vm);
        await rejectsWithDriverError(
          src.migrate(vm, { bogus: 'endpoint' }, { live: true }),
          'migrate to a bogus endpoint',
        );
        await assertState(src, vm, 'running');

        const endpoint = await dst.prepareIncoming(vm, { live: true });
        assert.deepEqual(
          await dst.prepareIncoming(vm, { live: true }),
          endpoint,
          'a repeated prepare answers the same',
        );
        await assertPrepared(dst, vm);
        const progress: Progress[] = [];
        await src.migrate(vm, endpoint, { live: true }, { onProgress: (p) => progress.push(p) });
        await src.migrate(vm, endpoint, { live: true });
        await dst.finishIncoming(vm, { live: true });
        await dst.finishIncoming(vm, { live: true });

        await assertState(dst, vm, 'running');
        await assertListed(dst, vm.id, 'running');
        await assertState(src, vm, 'absent');
        await assertNotListed(src, vm.id);
        // Late redeliveries after the finish: each may refuse, none may disturb the migrated VM.
        await dst.abortIncoming(vm).catch((err: unknown) => assert.equal((err as { code?: string }).code, 'conflict'));
        await src.migrate(vm, endpoint, { live: true });
        await dst.prepareIncoming(vm, { live: true }).catch((err: unknown) => assertDriverError(err));
        await assertState(dst, vm, 'running');
        await assertState(src, vm, 'absent');
        await dst.destroy(vm);
        await src.destroy(vm);
      },
    );
  }

  if (caps.coldMigration) {
    test(
      'cold migration (declared) of a stopped VM to the second host, snapshots included',
      { ...opts, skip: noSecond },
      async () => {
        const src = a();
        const dst = onB();
        const vm = spec('cold');
        await src.define(vm);
        if (caps.diskSnapshots) await src.snapshot(vm, 'before-move', { memory: false });
        const endpoint = await dst.prepareIncoming(vm, { live: false });
        assert.deepEqual(
          await dst.prepareIncoming(vm, { live: false }),
          endpoint,
          'a repeated prepare answers the same',
        );
        await src.migrate(vm, endpoint, { live: false });
        await src.migrate(vm, endpoint, { live: false });
        await dst.finishIncoming(vm, { live: false });
        await dst.finishIncoming(vm, { live: false });

        await assertState(dst, vm, 'stopped');
        await assertListed(dst, vm.id, 'stopped');
        await assertState(src, vm, 'absent');
        await assertNotListed(src, vm.id);
        if (caps.diskSnapshots) assert.deepEqual(await snapshotNames(dst, vm), ['before-move']);
        // Late redeliveries after the finish: each may refuse, none may disturb the migrated VM.
        await src.migrate(vm, endpoint, { live: false });
        await dst.prepareIncoming(vm, { live: false }).catch((err: unknown) => assertDriverError(err));
        await assertState(dst, vm, 'stopped');
        await assertState(src, vm, 'absent');
        if (caps.diskSnapshots) assert.deepEqual(await snapshotNames(dst, vm), ['before-move']);
        await dst.start(vm);
        await assertState(dst, vm, 'running');
        await dst.destroy(vm);
        await src.destroy(vm);
      },
    );
  }

  if (caps.liveMigration || caps.coldMigration) {
    const live = caps.liveMigration;
    test(
      `abortIncoming (${live ? 'live' : 'cold'}) removes what prepareIncoming made, twice; the source is untouched`,
      { ...opts, skip: noSecond },
      async () => {
        const src = a();
        const dst = onB();
        const vm = spec('abort');
        await src.define(vm);
        if (live) await src.start(vm);
        await dst.prepareIncoming(vm, { live });
        await assertPrepared(dst, vm);
        await dst.abortIncoming(vm);
        await assertState(dst, vm, 'absent');
        await assertNotListed(dst, vm.id);
        await dst.abortIncoming(vm);
        await assertState(src, vm, live ? 'running' : 'stopped');
        await src.destroy(vm);
      },
    );
  }
}
