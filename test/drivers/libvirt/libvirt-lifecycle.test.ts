import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DriverError, type VmSpec } from '../../../src/drivers/hypervisor-driver.port.js';
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
    const guest = ensureGuest();
    d = env.driver('lv1', daemons.uri, { images: guest.imagesDir });
    image = guest.image;
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

  /** The file libvirt has as the VM's disk now, and the disk files in its dir. */
  const diskOf = (spec: VmSpec) =>
    /\svda\s+(\S+)\s*$/m.exec(virshSync(daemons.uri, ['domblklist', d.domainName(spec.id), '--details']))?.[1] ?? '';
  const diskFiles = (spec: VmSpec) =>
    readdirSync(d.files(spec.id).vmDir)
      .filter((f) => /^disk.*\.qcow2$/.test(f))
      .sort();
  const MiB = 1024 * 1024;
  /** The bytes a disk reads at 0 and at 1 MiB (written separately, so a lost layer shows). */
  const content = (file: string) =>
    [0, MiB].flatMap((offset) => [0xa1, 0xb2, 0xc3].filter((p) => readsAs(file, p, offset)));

  test('disk-only snapshots are external: of a stopped and of a running VM; revert and delete keep every other snapshot whole', async () => {
    const spec = vmSpec({ memoryMiB: 64 });
    await d.define(spec);
    const original = d.files(spec.id).disk;
    writePattern(original, 0xa1, 0);
    writePattern(original, 0xa1, MiB);
    const s1 = await timed('external snapshot (stopped)', () => d.snapshot(spec, 's1', { memory: false }));
    assert.equal(s1.memory, false);
    assert.notEqual(diskOf(spec), original, 'the VM writes to an overlay now');
    writePattern(diskOf(spec), 0xb2, MiB);

    await d.start(spec);
    const s2 = await timed('external snapshot (running)', () => d.snapshot(spec, 's2', { memory: false }));
    assert.equal(s2.memory, false);
    assert.equal((await d.status(spec)).state, 'running', 'taking it did not stop the VM');
    assert.deepEqual(await d.snapshot(spec, 's2', { memory: false }), s2, 'a retried snapshot returns the first');
    await assert.rejects(
      d.snapshot(spec, 's2', { memory: true }),
      (e: unknown) =>
        e instanceof DriverError && e.code === 'conflict' && /disk-only snapshot named s2/.test(e.message),
    );
    assert.deepEqual(
      (await d.listSnapshots(spec)).map((x) => [x.name, x.memory]),
      [
        ['s1', false],
        ['s2', false],
      ],
    );
    await d.stop(spec, { force: true });
    writePattern(diskOf(spec), 0xc3, 0);

    // Reverting stops the VM and rewinds the disk; the snapshot stays, to be reverted to again.
    await d.start(spec);
    assert.equal(await timed('revert external snapshot (running)', () => d.revert(spec, 's1')), 'stopped');
    assert.deepEqual(content(diskOf(spec)), [0xa1, 0xa1]);
    writePattern(diskOf(spec), 0xc3, 0);
    assert.equal(await d.revert(spec, 's1'), 'stopped');
    assert.deepEqual(content(diskOf(spec)), [0xa1, 0xa1], 'reverted to again: the writes since are gone');
    assert.equal(await d.revert(spec, 's2'), 'stopped');
    assert.deepEqual(content(diskOf(spec)), [0xa1, 0xb2]);

    // Deleting the older snapshot while the VM runs: s2 reads through s1's file, which is merged into it.
    await d.start(spec);
    await timed('delete external snapshot (running, a file under another snapshot)', () =>
      d.deleteSnapshot(spec, 's1'),
    );
    await d.deleteSnapshot(spec, 's1'); // already gone: same end state
    assert.equal((await d.status(spec)).state, 'running');
    assert.deepEqual(
      (await d.listSnapshots(spec)).map((x) => x.name),
      ['s2'],
    );
    await assert.rejects(d.revert(spec, 's1'), (e: unknown) => e instanceof DriverError && e.code === 'not_found');
    assert.equal(await d.revert(spec, 's2'), 'stopped');
    assert.deepEqual(content(diskOf(spec)), [0xa1, 0xb2], 's2 is whole without s1');
    assert.equal(existsSync(original), false, "s1's frozen file is gone");

    // Deleting the last one merges the disk back into one file, with everything written since.
    writePattern(diskOf(spec), 0xc3, 0);
    await timed('delete external snapshot (stopped)', () => d.deleteSnapshot(spec, 's2'));
    assert.deepEqual(await d.listSnapshots(spec), []);
    assert.equal(diskFiles(spec).length, 1, `one disk file is left: ${diskFiles(spec).join(', ')}`);
    assert.deepEqual(content(diskOf(spec)), [0xc3, 0xb2]);
    await d.start(spec);
    assert.equal((await d.status(spec)).state, 'running', 'the VM starts from the merged file');
    await d.destroy(spec);
  });

  test('taking and deleting a snapshot of a running VM leaves it on disk.qcow2 again (live commit)', async () => {
    const spec = vmSpec({ memoryMiB: 64 });
    await d.define(spec);
    const original = d.files(spec.id).disk;
    await d.start(spec);
    await d.snapshot(spec, 'tmp', { memory: false });
    assert.notEqual(diskOf(spec), original);
    await timed('delete newest external snapshot (running: blockcommit)', () => d.deleteSnapshot(spec, 'tmp'));
    assert.equal(diskOf(spec), original);
    assert.deepEqual(diskFiles(spec), ['disk.qcow2']);
    assert.equal((await d.status(spec)).state, 'running');
    await d.stop(spec, { force: true });
    assert.equal(diskOf(spec), original, 'the persistent definition names it too');
    await d.destroy(spec);
  });

  test('memory snapshots: revert to running; mixed with disk-only ones, what would change a snapshot is refused', async () => {
    const spec = vmSpec({ memoryMiB: 64 });
    await d.define(spec);
    await d.start(spec);
    const hot = await timed('memory snapshot (running)', () => d.snapshot(spec, 'hot', { memory: true }));
    assert.equal(hot.memory, true);
    assert.deepEqual(await d.snapshot(spec, 'hot', { memory: true }), hot, 'a retried snapshot returns the first');
    await d.stop(spec, { force: true });
    // Reverting to a memory snapshot brings the VM back running, from the saved RAM.
    assert.equal(await timed('revert memory snapshot', () => d.revert(spec, 'hot')), 'running');
    assert.equal((await d.status(spec)).state, 'running');

    // A disk-only snapshot freezes the file 'hot' lives in: reverting to 'hot' would write into it.
    await d.snapshot(spec, 'after', { memory: false });
    await assert.rejects(
      d.revert(spec, 'hot'),
      (e: unknown) =>
        e instanceof DriverError && e.code === 'conflict' && /taken before the snapshots after/.test(e.message),
    );
    await assert.rejects(
      d.deleteSnapshot(spec, 'hot'),
      (e: unknown) => e instanceof DriverError && e.code === 'conflict' && /running VM reads/.test(e.message),
    );
    await assert.rejects(
      d.migrate(
        spec,
        {
          driver: 'libvirt',
          mode: 'live',
          uri: 'qemu+tcp://127.0.0.1:1/system',
          migrationHost: '127.0.0.1',
          storageId: 'elsewhere',
          diskPath: `/srv/elsewhere/${spec.id}/disk.qcow2`,
          diskBytes: 1024 ** 3,
        },
        { live: true },
      ),
      (e: unknown) => e instanceof DriverError && /disk-only snapshots \(after\)/.test(e.message),
    );
    // Deleting 'after' while 'hot' pins its file keeps the file and merges the overlay into it.
    await d.deleteSnapshot(spec, 'after');
    assert.equal(await d.revert(spec, 'hot'), 'running', 'hot is revertable again');
    assert.deepEqual(
      (await d.listSnapshots(spec)).map((x) => [x.name, x.memory]),
      [['hot', true]],
    );
    await d.deleteSnapshot(spec, 'hot');
    await d.deleteSnapshot(spec, 'hot'); // already gone: same end state
    assert.deepEqual(await d.listSnapshots(spec), []);
    assert.deepEqual(diskFiles(spec), ['disk.qcow2']);
    await assert.rejects(d.revert(spec, 'hot'), (e: unknown) => e instanceof DriverError && e.code === 'not_found');
    await assert.rejects(d.snapshot(spec, '../x', { memory: false }), /invalid snapshot name/);
    await d.destroy(spec);
  });
});

/** qemu-io exits non-zero when the pattern does not match. */
function readsAs(file: string, byte: number, offset: number): boolean {
  try {
    return hasPattern(file, byte, offset);
  } catch (err) {
    if (String((err as { stdout?: unknown }).stdout).includes('Pattern verification failed')) return false;
    throw err;
  }
}

function countIn(file: string, text: string): number {
  return existsSync(file) ? readFileSync(file, 'utf8').split(text).length - 1 : 0;
}
