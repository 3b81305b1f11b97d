import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DriverError, type Progress, type VmSpec } from '../../../src/drivers/hypervisor-driver.port.js';
import type { LibvirtDriver } from '../../../src/drivers/libvirt/libvirt.driver.js';
import { ensureGuest, waitForLog } from '../qemu/guest-console.js';
import { hasPattern, writePattern } from '../qemu/qemu-test-env.js';
import {
  ensureDaemons,
  libvirtSkipReason,
  LibvirtTestEnv,
  virshSync,
  vmSpec,
  type LibvirtDaemons,
} from './libvirt-test-env.js';

const skip = libvirtSkipReason() ?? false;

function diskOf(uri: string, domain: string): string {
  return /\svda\s+(\S+)\s*$/m.exec(virshSync(uri, ['domblklist', domain, '--details']))?.[1] ?? '';
}

/**
 * Live migration between two real libvirtd on one machine: the system one and the peer started by
 * .ci/services/libvirt.sh in its own mount + UTS namespace (own hostname and host UUID, loopback TCP).
 */
describe('libvirt live migration to a second libvirtd (real daemons, TCG guests)', { skip, timeout: 600_000 }, () => {
  let daemons: LibvirtDaemons;
  let env: LibvirtTestEnv;
  let a: LibvirtDriver;
  let image: string;
  /** Source and target both have the guest in their image catalog. */
  let imagesDir: string;

  before(() => {
    daemons = ensureDaemons();
    env = new LibvirtTestEnv('vl-lvmig-');
    const guest = ensureGuest();
    imagesDir = guest.imagesDir;
    a = env.driver('src', daemons.uri, { images: imagesDir });
    image = guest.image;
  });
  after(async () => {
    await env?.cleanup();
    daemons?.stop();
  });

  function peer(hostId: string, storage?: string): LibvirtDriver {
    assert.ok(daemons.peerUri, 'the peer libvirtd runs');
    const params: Record<string, string> = { peerUri: daemons.peerUri, migrationHost: '127.0.0.1' };
    if (storage) params.storage = storage;
    return env.driver(hostId, daemons.peerUri, { images: imagesDir, ...params });
  }

  test('peer-to-peer live migration with --copy-storage-all: the guest runs on, with its disk, on the target', async () => {
    const b = peer('dst');
    const spec = vmSpec({ image });
    await a.define(spec);
    // 128 MiB of data: the disk copy lasts long enough to be seen in progress.
    writePattern(a.files(spec.id).disk, 0x5c, 1 << 20, 128 << 20);
    await a.start(spec);
    await waitForLog(a.files(spec.id).consoleLog, 'GUEST-READY', 120_000);

    const endpoint = await b.prepareIncoming(spec, { live: true });
    assert.deepEqual(await b.prepareIncoming(spec, { live: true }), endpoint, 'a retried prepare answers the same');
    const t0 = Date.now();
    const progress: Progress[] = [];
    await a.migrate(spec, endpoint, { live: true }, { onProgress: (p) => progress.push(p) });
    console.log(`timing live migrate with storage copy: ${Date.now() - t0} ms`);
    // The job's own figures were reported while it ran (polled each second; the copy takes several).
    assert.ok(
      progress.some((p) => (p.totalBytes ?? 0) > 0 && (p.transferredBytes ?? 0) > 0),
      JSON.stringify(progress),
    );
    await b.finishIncoming(spec, { live: true });

    assert.equal((await a.status(spec)).state, 'absent', 'the source no longer has it');
    assert.equal(existsSync(a.files(spec.id).vmDir), false, "the source's copy of the disk is gone");
    assert.equal((await b.status(spec)).state, 'running');
    assert.ok(hasPattern(b.files(spec.id).disk, 0x5c, 1 << 20), 'the disk content arrived on the target');
    const status = virshSync(daemons.peerUri!, [
      'qemu-monitor-command',
      b.domainName(spec.id),
      '{"execute":"query-status"}',
    ]);
    assert.match(status, /"status":"running"/);
    // The target's persistent definition is ours: its own disk path.
    assert.match(
      virshSync(daemons.peerUri!, ['dumpxml', '--inactive', b.domainName(spec.id)]),
      new RegExp(b.files(spec.id).disk),
    );
    await a.migrate(spec, endpoint, { live: true }); // a redelivered migrate finds it done

    // The guest OS itself survived: it answers an ACPI power-off on the target.
    await b.stop(spec, { force: false });
    assert.deepEqual(await b.status(spec), { state: 'stopped', detail: 'shut off (shutdown)' });
    await b.destroy(spec);
  });

  test('live migration on shared storage moves RAM only and keeps the one disk', async () => {
    const b = peer('dst-shared', a.storageDir);
    const spec = vmSpec({ memoryMiB: 64 });
    await a.define(spec);
    await a.start(spec);
    const disk = a.files(spec.id).disk;
    const endpoint = await b.prepareIncoming(spec, { live: true });
    assert.equal(endpoint.diskPath, disk, 'the target sees the same file');
    const t0 = Date.now();
    await a.migrate(spec, endpoint, { live: true });
    console.log(`timing live migrate, shared storage: ${Date.now() - t0} ms`);
    await b.finishIncoming(spec, { live: true });
    assert.equal((await b.status(spec)).state, 'running');
    assert.equal((await a.status(spec)).state, 'absent');
    assert.ok(existsSync(disk), 'the shared disk stays');
    await a.destroy(spec); // the source forgetting the VM must not delete the disk the target runs on
    assert.ok(existsSync(disk));
    await b.destroy(spec);
  });

  test('cold migration of a stopped VM copies its disk and defines it on the target', async () => {
    const b = peer('dst-cold');
    const spec = vmSpec({ memoryMiB: 64 });
    await a.define(spec);
    writePattern(a.files(spec.id).disk, 0x3d);
    const endpoint = await b.prepareIncoming(spec, { live: false });
    await assert.rejects(a.migrate(spec, endpoint, { live: true }), /live migration needs VM .* running/);
    await a.migrate(spec, endpoint, { live: false });
    await a.migrate(spec, endpoint, { live: false }); // redelivered: already done
    await b.finishIncoming(spec, { live: false });
    assert.equal((await a.status(spec)).state, 'absent');
    assert.equal((await b.status(spec)).state, 'stopped');
    assert.ok(hasPattern(b.files(spec.id).disk, 0x3d), 'the disk content arrived');
    await b.start(spec);
    assert.equal((await b.status(spec)).state, 'running');
    await b.destroy(spec);
  });

  /** Snapshots taken and deleted so that the VM's one disk file ends up named disk.<n>.qcow2. */
  async function driftDisk(spec: VmSpec): Promise<string> {
    await a.snapshot(spec, 'd1', { memory: false });
    await a.snapshot(spec, 'd2', { memory: false });
    await a.deleteSnapshot(spec, 'd1');
    await a.deleteSnapshot(spec, 'd2');
    const disk = diskOf(daemons.uri, a.domainName(spec.id));
    assert.match(basename(disk), /^disk\.\d+\.qcow2$/);
    return disk;
  }

  test('cold migration carries external snapshots; live migration refuses them, and after deletions the disk arrives as disk.qcow2', async () => {
    const b = peer('dst-drift');
    const cold = vmSpec({ memoryMiB: 64 });
    await a.define(cold);
    writePattern(a.files(cold.id).disk, 0x4e);
    await a.snapshot(cold, 'keep-me', { memory: false });
    writePattern(diskOf(daemons.uri, a.domainName(cold.id)), 0x6a);
    const coldEndpoint = await b.prepareIncoming(cold, { live: false });
    await a.migrate(cold, coldEndpoint, { live: false });
    await b.finishIncoming(cold, { live: false });
    assert.deepEqual(
      (await b.listSnapshots(cold)).map((x) => x.name),
      ['keep-me'],
    );
    const arrived = diskOf(daemons.peerUri!, b.domainName(cold.id));
    assert.equal(dirname(arrived), b.files(cold.id).vmDir, 'the target runs on its own files');
    assert.ok(hasPattern(arrived, 0x6a), 'the writes after the snapshot arrived');
    assert.equal(await b.revert(cold, 'keep-me'), 'stopped');
    assert.ok(hasPattern(diskOf(daemons.peerUri!, b.domainName(cold.id)), 0x4e), 'the snapshot arrived whole');
    await b.start(cold);
    assert.equal((await b.status(cold)).state, 'running');
    await b.destroy(cold);

    const live = vmSpec({ memoryMiB: 64 });
    await a.define(live);
    writePattern(a.files(live.id).disk, 0x5f);
    await driftDisk(live);
    await a.start(live);
    await a.snapshot(live, 'blocks', { memory: false });
    const liveEndpoint = await b.prepareIncoming(live, { live: true });
    await assert.rejects(
      a.migrate(live, liveEndpoint, { live: true }),
      (e: unknown) =>
        e instanceof DriverError && e.code === 'conflict' && /disk-only snapshots \(blocks\)/.test(e.message),
    );
    assert.equal((await a.status(live)).state, 'running', 'the refused VM runs on at the source');
    await a.deleteSnapshot(live, 'blocks');
    await a.migrate(live, liveEndpoint, { live: true });
    await b.finishIncoming(live, { live: true });
    assert.equal((await b.status(live)).state, 'running');
    assert.equal(diskOf(daemons.peerUri!, b.domainName(live.id)), b.files(live.id).disk);
    await b.stop(live, { force: true });
    assert.equal(diskOf(daemons.peerUri!, b.domainName(live.id)), b.files(live.id).disk, 'persistently');
    assert.ok(hasPattern(b.files(live.id).disk, 0x5f), 'the mirrored disk holds the data');
    await b.destroy(live);
  });

  test('an aborted incoming migration removes what prepare made; a failed migrate leaves the VM on the source', async () => {
    const b = peer('dst-abort');
    const spec = vmSpec({ memoryMiB: 64 });
    await a.define(spec);
    await a.start(spec);
    const endpoint = await b.prepareIncoming(spec, { live: true });
    assert.ok(existsSync(b.files(spec.id).disk));
    // A target the source daemon cannot reach: libvirt's own error comes back, the VM stays.
    const dead = { ...endpoint, uri: 'qemu+tcp://127.0.0.1:1/system' };
    await assert.rejects(a.migrate(spec, dead, { live: true }), /migrate: .*(Connection refused|unable to connect)/i);
    assert.equal((await a.status(spec)).state, 'running');
    await b.abortIncoming(spec);
    await b.abortIncoming(spec);
    assert.equal(existsSync(b.files(spec.id).vmDir), false);
    assert.equal((await b.status(spec)).state, 'absent');
    await a.destroy(spec);
  });
});
