/**
 * Volumes on the real libvirtd (qemu:///system, a TCG Linux guest): a cold attach goes into the
 * persistent definition (`attach-device --config`) and the guest has it at start; a detach of
 * the running guest (`detach-disk --live --config`) is done once the domain no longer lists it;
 * a hot attach (`--live --config`) shows in the running domain and its definition.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { volumeImagePath } from '../../../src/drivers/kit/volume-files.js';
import { waitForLog } from '../qemu/guest-console.js';
import { libvirtSkipReason, libvirtSuite, virshSync, vmSpec } from './libvirt-test-env.js';

const skip = libvirtSkipReason() ?? false;

describe('libvirt driver: volumes (real libvirtd, a TCG Linux guest)', { skip, timeout: 600_000 }, () => {
  const s = libvirtSuite('lvvol', { guest: true });

  test('cold attach into the definition, detach live, hot attach live and into the definition', async () => {
    const spec = vmSpec({ image: s.image });
    const name = s.d.domainName(spec.id);
    const volume = { volumeId: '0f4b6a1e-8c2d-4e7f-9a3b-5c6d7e8f9a0b', name: 'data', sizeGiB: 1 };
    const path = volumeImagePath(s.d.storageDir, volume);
    const listed = (live: boolean) => virshSync(s.daemons.uri, ['domblklist', name, ...(live ? [] : ['--inactive'])]);

    await s.d.define(spec);
    await s.d.createVolume(volume);
    await s.d.attachVolume(spec, volume, { live: false });
    await s.d.attachVolume(spec, volume, { live: false }); // a redelivery: already there
    assert.match(listed(false), new RegExp(`vdc\\s+${path}`));
    assert.match(
      virshSync(s.daemons.uri, ['dumpxml', '--inactive', name]),
      /<serial>vol-0f4b6a1e8c2d4e7f9a3b5c6d<\/serial>/,
    );

    await s.d.start(spec);
    await waitForLog(join(s.d.files(spec.id).vmDir, 'console.log'), 'GUEST-READY', 120_000);
    assert.match(listed(true), new RegExp(`vdc\\s+${path}`), 'the running guest has it');

    await s.d.detachVolume(spec, volume, { live: true });
    assert.doesNotMatch(listed(true), new RegExp(path), 'gone from the running domain');
    assert.doesNotMatch(listed(false), new RegExp(path), 'gone from the definition');

    await s.d.attachVolume(spec, volume, { live: true });
    assert.match(listed(true), new RegExp(path), 'hot-plugged into the running domain');
    assert.match(listed(false), new RegExp(path), 'and kept for the next start');

    // A disk-only snapshot would overlay the VM's disk only: refused while a volume is attached
    // (libvirt-volume-migration.test.ts shows a memory snapshot covering the volume).
    await assert.rejects(s.d.snapshot({ ...spec, volumes: [volume] }, 'disk1', { memory: false }), /volumes attached/);
    assert.match(listed(true), new RegExp(`vdc\\s+${path}`), 'nothing changed');

    await s.d.destroy(spec);
    await s.d.deleteVolume(volume);
  });
});
