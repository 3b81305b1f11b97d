/**
 * Cold resize on the real libvirtd: a stopped domain started with a new size comes up with it
 * (vCPUs and memory through `virsh setvcpus/setmaxmem/setmem --config`, a larger disk grown),
 * and shrinks back the same way.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { imageInfo } from '../../../src/drivers/kit/qemu-img.js';
import type { LibvirtDriver } from '../../../src/drivers/libvirt/libvirt.driver.js';
import { definedSize } from '../../../src/drivers/libvirt/libvirt-resize.js';
import {
  ensureDaemons,
  libvirtSkipReason,
  LibvirtTestEnv,
  virshSync,
  vmSpec,
  type LibvirtDaemons,
} from './libvirt-test-env.js';

const skip = libvirtSkipReason() ?? false;

describe('libvirt driver: cold resize on qemu:///system', { skip, timeout: 300_000 }, () => {
  let daemons: LibvirtDaemons;
  let env: LibvirtTestEnv;
  let d: LibvirtDriver;

  before(() => {
    daemons = ensureDaemons();
    env = new LibvirtTestEnv();
    d = env.driver('lvr', daemons.uri);
  });
  after(async () => {
    await env?.cleanup();
    daemons?.stop();
  });

  const dominfo = (name: string) => {
    const out = virshSync(daemons.uri, ['dominfo', name]);
    return {
      cpus: Number(/^CPU\(s\):\s+(\d+)/m.exec(out)?.[1]),
      maxKiB: Number(/^Max memory:\s+(\d+) KiB/m.exec(out)?.[1]),
      usedKiB: Number(/^Used memory:\s+(\d+) KiB/m.exec(out)?.[1]),
    };
  };

  test('a stopped domain started with a new size runs with it; grown disk; shrinks back', async () => {
    const spec = vmSpec({ vcpus: 1, memoryMiB: 64, diskGiB: 1 });
    const name = d.domainName(spec.id);
    await d.define(spec);

    const bigger = { ...spec, vcpus: 2, memoryMiB: 96, diskGiB: 2 };
    await d.start(bigger);
    assert.equal((await d.status(bigger)).state, 'running');
    assert.deepEqual(dominfo(name), { cpus: 2, maxKiB: 96 * 1024, usedKiB: 96 * 1024 });
    const defined = definedSize(virshSync(daemons.uri, ['dumpxml', name, '--inactive']));
    assert.deepEqual(defined, { vcpus: 2, memoryKiB: 96 * 1024, currentKiB: 96 * 1024 });
    assert.equal((await imageInfo(d.files(spec.id).disk, { forceShare: true }))['virtual-size'], 2 * 1024 ** 3);

    await d.stop(bigger, { force: true });
    const smaller = { ...spec, vcpus: 1, memoryMiB: 48, diskGiB: 2 };
    await d.start(smaller);
    assert.deepEqual(dominfo(name), { cpus: 1, maxKiB: 48 * 1024, usedKiB: 48 * 1024 });
    // Same size again: nothing to change, the start is a plain start.
    await d.stop(smaller, { force: true });
    await d.start(smaller);
    assert.equal(dominfo(name).cpus, 1);
    await d.destroy(smaller);
  });
});
