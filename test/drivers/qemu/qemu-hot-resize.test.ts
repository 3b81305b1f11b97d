/**
 * Live resize on a real QEMU (TCG) with a real Linux guest: what the guest itself sees after
 * vCPUs, memory and disk grow, that a redelivery plugs nothing twice, what is refused, and that
 * a hot-resized VM still migrates live (the target is started with the same CPU/DIMM layout).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { VmSpec } from '../../../src/drivers/hypervisor-driver.port.js';
import type { QemuDriver } from '../../../src/drivers/qemu/qemu.driver.js';
import {
  GuestConsole,
  ensureGuest,
  guestHasCpus,
  guestHasMemory,
  guestView,
  waitForLog,
  type GuestImage,
} from './guest-console.js';
import { QemuTestEnv, vmSpec } from './qemu-test-env.js';
import { driverError } from '../../support/driver-error.js';

/** The argv of the QEMU that runs this VM on this driver's host. */
async function argvOf(driver: QemuDriver, spec: VmSpec): Promise<string[]> {
  const { pid } = await driver.status(spec);
  assert.ok(pid, 'the VM must run');
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
}

const valueOf = (argv: string[], flag: string): string | undefined => argv[argv.indexOf(flag) + 1];

/**
 * What the guest sees: online CPUs and MemTotal (MiB) after onlining whatever was hot-plugged
 * (the busybox guest has no udev to do it), and the size of its disk in 512-byte sectors.
 */

describe('qemu driver: live resize (real QEMU, real Linux guest)', () => {
  const env = new QemuTestEnv('vl-qemu-hot-');
  const consoles: GuestConsole[] = [];
  let guest: GuestImage;
  before(() => {
    guest = ensureGuest();
  });
  after(async () => {
    for (const c of consoles) c.close();
    await env.cleanup();
  });

  const connect = async (driver: QemuDriver, spec: VmSpec): Promise<GuestConsole> => {
    const con = await GuestConsole.connect(driver.domainPaths(spec.id).serialSocket);
    consoles.push(con);
    return con;
  };

  test('grow vCPUs, memory and disk live; the guest sees them; it migrates (NBD and shared) and restarts cold', async () => {
    const params = { images: guest.imagesDir };
    const a = env.driver('hot-a', { params });
    const b = env.driver('hot-b', { storage: 'shared', params });
    const c = env.driver('hot-c', { storage: 'shared', params });
    const spec = vmSpec({ vcpus: 1, maxVcpus: 3, memoryMiB: 128, maxMemoryMiB: 512, image: guest.image });
    await a.define(spec);
    await a.start(spec);
    const argv = await argvOf(a, spec);
    assert.equal(valueOf(argv, '-smp'), '1,maxcpus=3');
    assert.equal(valueOf(argv, '-m'), '128M,slots=16,maxmem=512M');
    await waitForLog(a.domainPaths(spec.id).serialLog, 'GUEST-READY', 90_000);
    const onA = await connect(a, spec);
    const before = await guestView(onA);
    assert.equal(before.cpus, 1);
    assert.equal(before.diskSectors, 2 * 1024 * 1024);

    // 1. A vCPU and the disk, then a redelivery of the same call: nothing is plugged twice.
    const cpuAndDisk = { vcpus: 2, memoryMiB: 128, diskGiB: 2 };
    await a.resizeLive(spec, cpuAndDisk);
    await a.resizeLive(spec, cpuAndDisk);
    await guestHasCpus(onA, 2);
    const grown = await guestView(onA);
    assert.equal(grown.cpus, 2, 'the guest runs on the added vCPU');
    assert.equal(grown.memMiB, before.memMiB);
    assert.equal(grown.diskSectors, 4 * 1024 * 1024, 'the guest sees the 2 GiB disk at once');

    // 2. Live migration without shared storage: the target boots the added CPU as its own.
    const spec2 = { ...spec, ...cpuAndDisk };
    const endpoint = await b.prepareIncoming(spec2, { live: true });
    // b and c share storage with each other, not with a: this one is an NBD copy.
    assert.equal(endpoint.shared, false);
    await a.migrate(spec2, endpoint, { live: true });
    await b.finishIncoming(spec2, { live: true });
    onA.close();
    const onB = await connect(b, spec2);
    assert.equal((await guestView(onB)).cpus, 2, 'the migrated guest still has both vCPUs');

    // 3. Memory: one 128 MiB DIMM; the guest's MemTotal grows by it.
    const withMemory = { vcpus: 2, memoryMiB: 256, diskGiB: 2 };
    await b.resizeLive(spec2, withMemory);
    await b.resizeLive(spec2, withMemory);
    const more = await guestHasMemory(onB, before.memMiB + 128);
    assert.equal(more.memMiB - before.memMiB, 128, `MemTotal grew by one DIMM: ${JSON.stringify(more)}`);
    const spec3 = { ...spec2, ...withMemory };

    // 4. Refused, and the VM untouched: shrinking, beyond the ceilings, a step the guest cannot use.
    await assert.rejects(b.resizeLive(spec3, { ...withMemory, vcpus: 1 }), driverError('invalid', /removing vCPUs/));
    await assert.rejects(
      b.resizeLive(spec3, { ...withMemory, vcpus: 4 }),
      driverError('invalid', /room for 3 vCPUs.*stop the VM/),
    );
    await assert.rejects(
      b.resizeLive(spec3, { ...withMemory, memoryMiB: 640 }),
      driverError('invalid', /room for 512 MiB.*stop the VM/),
    );
    await assert.rejects(
      b.resizeLive(spec3, { ...withMemory, memoryMiB: 300 }),
      driverError('invalid', /steps of 128/),
    );
    await assert.rejects(b.resizeLive(spec3, { ...withMemory, memoryMiB: 128 }), driverError('invalid', /reducing/));
    await assert.rejects(b.resizeLive(spec3, { ...withMemory, diskGiB: 1 }), driverError('invalid', /only grow/));
    const aborted = AbortSignal.abort(new Error('operator cancelled'));
    await assert.rejects(
      b.resizeLive(spec3, { vcpus: 3, memoryMiB: 384, diskGiB: 3 }, { signal: aborted }),
      driverError('failed', /operator cancelled/),
    );
    assert.deepEqual(await guestView(onB), more, 'a refused or cancelled resize changes nothing in the guest');

    // 5. With a DIMM, a target without shared storage could not rebuild the memory: refused up front.
    const toA = await a.prepareIncoming(spec3, { live: true });
    await assert.rejects(
      b.migrate(spec3, toA, { live: true }),
      driverError('conflict', /memory was added.*stop and start/),
    );
    await a.abortIncoming(spec3);
    assert.equal((await b.status(spec3)).state, 'running');

    // 6. Shared storage: the target starts with the same DIMM (by id) and gets the guest's memory.
    const toC = await c.prepareIncoming(spec3, { live: true });
    assert.equal(toC.shared, true);
    const targetArgv = await argvOf(c, spec3);
    assert.ok(targetArgv.includes('pc-dimm,id=vl-dimm-0,memdev=vl-mem-0'), targetArgv.join(' '));
    assert.equal(valueOf(targetArgv, '-smp'), '2,maxcpus=3');
    await b.migrate(spec3, toC, { live: true });
    await c.finishIncoming(spec3, { live: true });
    onB.close();
    const onC = await connect(c, spec3);
    assert.deepEqual(await guestView(onC), more, 'vCPUs, memory and disk all arrived');

    // 7. Growing again after the migration continues the layout (a second DIMM, the last vCPU).
    await c.resizeLive(spec3, { vcpus: 3, memoryMiB: 384, diskGiB: 2 });
    await guestHasCpus(onC, 3);
    const last = await guestHasMemory(onC, before.memMiB + 256);
    assert.equal(last.cpus, 3);
    assert.equal(last.memMiB - before.memMiB, 256);

    // 8. Stop/start applies the spec cold: everything is boot CPUs and boot RAM, no DIMM left.
    const spec4 = { ...spec3, vcpus: 3, memoryMiB: 384 };
    await c.stop(spec4, { force: true });
    await assert.rejects(c.resizeLive(spec4, { vcpus: 3, memoryMiB: 384, diskGiB: 2 }), driverError('conflict'));
    await c.start(spec4);
    const cold = await argvOf(c, spec4);
    assert.equal(valueOf(cold, '-smp'), '3', 'no vCPU headroom left: plain -smp');
    assert.equal(valueOf(cold, '-m'), '384M,slots=16,maxmem=512M');
    assert.ok(!cold.some((arg) => arg.startsWith('pc-dimm')), cold.join(' '));
    await c.destroy(spec4);
    await a.destroy(spec4);
  });
});
