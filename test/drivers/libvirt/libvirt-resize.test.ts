/**
 * Cold resize on the real libvirtd: a stopped domain started with a new size comes up with it
 * (vCPUs and memory through `virsh setvcpus/setmaxmem/setmem --config`, a larger disk grown),
 * and shrinks back the same way.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { imageInfo } from '../../../src/drivers/kit/qemu-img.js';
import { definedSize } from '../../../src/drivers/libvirt/libvirt-resize.js';
import { libvirtSkipReason, libvirtSuite, virshSync, vmSpec } from './libvirt-test-env.js';

const skip = libvirtSkipReason() ?? false;

describe('libvirt driver: cold resize on qemu:///system', { skip, timeout: 300_000 }, () => {
  const s = libvirtSuite('lvr');

  const dominfo = (name: string) => {
    const out = virshSync(s.daemons.uri, ['dominfo', name]);
    return {
      cpus: Number(/^CPU\(s\):\s+(\d+)/m.exec(out)?.[1]),
      maxKiB: Number(/^Max memory:\s+(\d+) KiB/m.exec(out)?.[1]),
      usedKiB: Number(/^Used memory:\s+(\d+) KiB/m.exec(out)?.[1]),
    };
  };

  test('a stopped domain started with a new size runs with it; grown disk; shrinks back', async () => {
    const spec = vmSpec({ vcpus: 1, memoryMiB: 64, diskGiB: 1 });
    const name = s.d.domainName(spec.id);
    await s.d.define(spec);

    const bigger = { ...spec, vcpus: 2, memoryMiB: 96, diskGiB: 2 };
    await s.d.start(bigger);
    assert.equal((await s.d.status(bigger)).state, 'running');
    assert.deepEqual(dominfo(name), { cpus: 2, maxKiB: 96 * 1024, usedKiB: 96 * 1024 });
    const defined = definedSize(virshSync(s.daemons.uri, ['dumpxml', name, '--inactive']));
    assert.deepEqual(defined, { vcpus: 2, memoryKiB: 96 * 1024, currentKiB: 96 * 1024 });
    assert.equal((await imageInfo(s.d.files(spec.id).disk, { forceShare: true }))['virtual-size'], 2 * 1024 ** 3);

    await s.d.stop(bigger, { force: true });
    const smaller = { ...spec, vcpus: 1, memoryMiB: 48, diskGiB: 2 };
    await s.d.start(smaller);
    assert.deepEqual(dominfo(name), { cpus: 1, maxKiB: 48 * 1024, usedKiB: 48 * 1024 });
    // Same size again: nothing to change, the start is a plain start.
    await s.d.stop(smaller, { force: true });
    await s.d.start(smaller);
    assert.equal(dominfo(name).cpus, 1);
    await s.d.destroy(smaller);
  });
});
