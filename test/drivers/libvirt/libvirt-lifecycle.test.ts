import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DriverError } from '../../../src/drivers/hypervisor-driver.port.js';
import type { LibvirtDriver } from '../../../src/drivers/libvirt/libvirt.driver.js';
import { ensureGuest, waitForLog } from '../qemu/guest-console.js';
import { hasPattern, writePattern } from '../qemu/qemu-test-env.js';
import {
  ensureDaemons,
  libvirtSkipReason,
  LibvirtTestEnv,
  qemuPidsOf,
  virshSync,
  vmSpec,
  waitFor,
  type LibvirtDaemons,
} from './libvirt-test-env.js';

const skip = libvirtSkipReason() ?? false;

async function timed<T>(label: string, fn: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  try {
    return await fn();
  } finally {
    console.log(`timing ${label}: ${Date.now() - t0} ms`);
  }
}

describe('libvirt driver on qemu:///system (real libvirtd, TCG guests)', { skip, timeout: 600_000 }, () => {
  let daemons: LibvirtDaemons;
  let env: LibvirtTestEnv;
  let d: LibvirtDriver;
  let image: string;

  before(() => {
    daemons = ensureDaemons();
    env = new LibvirtTestEnv();
    d = env.driver('lv1', daemons.uri);
    image = ensureGuest().image;
  });
  after(async () => {
    await env?.cleanup();
    daemons?.stop();
  });

  test('define, start, pause/resume, reboot, graceful stop by the guest, force stop, destroy', async () => {
    const spec = vmSpec({ image });
    const name = d.domainName(spec.id);
    const log = join(d.files(spec.id).vmDir, 'console.log');
    await timed('define', () => d.define(spec));
    await d.define(spec); // a retried define is the same end state
    assert.equal((await d.status(spec)).state, 'stopped');
    assert.ok(existsSync(d.files(spec.id).disk), 'the qcow2 disk exists');
    assert.match(virshSync(daemons.uri, ['dumpxml', name]), /<target dev='vda' bus='virtio'\/>/);

    await timed('start', () => d.start(spec));
    await d.start(spec); // start of a running VM succeeds
    assert.equal((await d.status(spec)).state, 'running');
    await timed('guest boot to GUEST-READY', () => waitForLog(log, 'GUEST-READY', 120_000));

    await timed('pause', () => d.pause(spec));
    await d.pause(spec);
    assert.equal((await d.status(spec)).state, 'paused');
    await timed('resume', () => d.resume(spec));
    await d.resume(spec);
    assert.equal((await d.status(spec)).state, 'running');

    // A reset reboots the guest: it boots (and says so on its console) a second time.
    await d.reboot(spec);
    await waitFor('second boot', () => countIn(log, 'GUEST-READY') >= 2, 120_000);

    // Graceful: the guest's acpid powers it off, well before the 20 s fallback to destroy.
    const t0 = Date.now();
    await timed('graceful stop', () => d.stop(spec, { force: false }));
    assert.ok(Date.now() - t0 < 15_000, 'the guest shut down by itself');
    assert.deepEqual(await d.status(spec), { state: 'stopped', detail: 'shut off (shutdown)' });
    await d.stop(spec, { force: false }); // stop of a stopped VM succeeds

    await d.start(spec);
    await timed('force stop', () => d.stop(spec, { force: true }));
    assert.deepEqual(await d.status(spec), { state: 'stopped', detail: 'shut off (destroyed)' });

    await assert.rejects(d.pause(spec), (e: unknown) => e instanceof DriverError && e.code === 'conflict');
    await timed('destroy', () => d.destroy(spec));
    assert.equal((await d.status(spec)).state, 'absent');
    assert.equal(existsSync(d.files(spec.id).vmDir), false, 'its files are gone');
    await d.destroy(spec); // destroy of an absent VM succeeds
  });

  test('a guest that ignores ACPI is destroyed when the stop timeout runs out', async () => {
    // No image: SeaBIOS finds nothing to boot and never powers off on ACPI.
    const spec = vmSpec({ memoryMiB: 64 });
    await d.define(spec);
    await d.start(spec);
    const t0 = Date.now();
    await d.stop(spec, { force: false, timeoutMs: 1500 });
    const took = Date.now() - t0;
    assert.ok(took >= 1500, `waited for the guest first (${took} ms)`);
    assert.deepEqual(await d.status(spec), { state: 'stopped', detail: 'shut off (destroyed)' });
    await d.destroy(spec);
  });

  test('a QEMU killed from outside reads as crashed; the event feed reports outside changes', async () => {
    const spec = vmSpec({ memoryMiB: 64 });
    const name = d.domainName(spec.id);
    await d.define(spec);
    const seen: string[] = [];
    const unwatch = d.watch((vmId) => seen.push(vmId));
    try {
      await d.start(spec);
      await waitFor('start event', () => seen.includes(spec.id), 20_000);
      seen.length = 0;
      virshSync(daemons.uri, ['destroy', name]); // an admin, not the service
      await waitFor('event of the outside destroy', () => seen.includes(spec.id), 20_000);
      assert.equal((await d.status(spec)).state, 'stopped');

      await d.start(spec);
      const pids = qemuPidsOf(name);
      assert.equal(pids.length, 1, 'one QEMU runs the domain');
      process.kill(pids[0]!, 'SIGKILL');
      await waitFor('crashed', async () => (await d.status(spec)).state === 'crashed', 20_000);
      assert.match((await d.status(spec)).detail ?? '', /crashed|failed/);
      assert.equal((await d.listDomains()).find((x) => x.vmId === spec.id)?.state, 'crashed');
      // The control plane acknowledges the crash with a stop: from then on it reads stopped, everywhere.
      await d.stop(spec, { force: true });
      assert.equal((await d.status(spec)).state, 'stopped');
      assert.equal((await d.listDomains()).find((x) => x.vmId === spec.id)?.state, 'stopped');
      await d.start(spec); // a crashed VM starts again
      assert.equal((await d.status(spec)).state, 'running');
    } finally {
      unwatch();
    }
    await d.destroy(spec);
  });

  test('a foreign domain is listed as unmanaged and left alone', async () => {
    const foreign = `foreign-${Date.now()}`;
    const xml = join(env.root, `${foreign}.xml`);
    writeFileSync(
      xml,
      `<domain type='qemu'><name>${foreign}</name><memory unit='MiB'>32</memory><os><type arch='x86_64'>hvm</type></os>` +
        `<devices><disk type='file'><source file='${env.root}/none.qcow2'/><target dev='vda'/></disk></devices></domain>`,
    );
    virshSync(daemons.uri, ['define', xml]);
    const spec = vmSpec({ memoryMiB: 64 });
    await d.define(spec);
    const domains = await d.listDomains();
    const listed = domains.find((x) => x.vmId === foreign);
    assert.deepEqual([listed?.managed, listed?.state], [false, 'stopped']);
    assert.deepEqual(domains.find((x) => x.vmId === spec.id)?.managed, true);
    await d.destroy(spec);
    assert.match(virshSync(daemons.uri, ['domstate', foreign]), /shut off/, 'the foreign domain is still there');
    virshSync(daemons.uri, ['undefine', foreign]);
  });

  test('snapshots: memory snapshot of a running VM, disk snapshot of a stopped one; revert, delete, list', async () => {
    const spec = vmSpec({ memoryMiB: 64 });
    await d.define(spec);
    const disk = d.files(spec.id).disk;
    writePattern(disk, 0xa1);
    const cold = await timed('disk snapshot (stopped)', () => d.snapshot(spec, 'cold', { memory: false }));
    assert.equal(cold.memory, false);
    writePattern(disk, 0xb2);
    assert.equal(await timed('revert disk snapshot', () => d.revert(spec, 'cold')), 'stopped');
    assert.ok(hasPattern(disk, 0xa1), 'the disk is back as it was at the snapshot');

    await d.start(spec);
    await assert.rejects(
      d.snapshot(spec, 'cold', { memory: true }),
      (e: unknown) =>
        e instanceof DriverError && e.code === 'conflict' && /disk-only snapshot named cold/.test(e.message),
    );
    // libvirt cannot take an internal disk-only snapshot of a running domain: refused, not faked.
    await assert.rejects(
      d.snapshot(spec, 'live-disk', { memory: false }),
      (e: unknown) => e instanceof DriverError && e.code === 'unsupported',
    );
    const hot = await timed('memory snapshot (running)', () => d.snapshot(spec, 'hot', { memory: true }));
    assert.equal(hot.memory, true);
    assert.deepEqual(await d.snapshot(spec, 'hot', { memory: true }), hot, 'a retried snapshot returns the first');
    await d.stop(spec, { force: true });
    // Reverting to a memory snapshot brings the VM back running, from the saved RAM.
    assert.equal(await timed('revert memory snapshot', () => d.revert(spec, 'hot')), 'running');
    assert.equal((await d.status(spec)).state, 'running');
    // Reverting a running VM to the disk-only snapshot stops it.
    assert.equal(await d.revert(spec, 'cold'), 'stopped');

    assert.deepEqual(
      (await d.listSnapshots(spec)).map((s) => [s.name, s.memory]),
      [
        ['cold', false],
        ['hot', true],
      ],
    );
    await d.deleteSnapshot(spec, 'hot');
    await d.deleteSnapshot(spec, 'hot'); // already gone: same end state
    assert.deepEqual(
      (await d.listSnapshots(spec)).map((s) => s.name),
      ['cold'],
    );
    await assert.rejects(d.revert(spec, 'hot'), (e: unknown) => e instanceof DriverError && e.code === 'not_found');
    await assert.rejects(d.snapshot(spec, '../x', { memory: false }), /invalid snapshot name/);
    await d.destroy(spec);
  });
});

function countIn(file: string, text: string): number {
  return existsSync(file) ? readFileSync(file, 'utf8').split(text).length - 1 : 0;
}
