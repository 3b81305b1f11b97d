import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { qemuArgs, type QemuLaunch } from './qemu-args.js';
import { assertPortableLayout, launchLayout, layoutArgs, writeLayout } from './qemu-hotplug-layout.js';

const dir = mkdtempSync(join(tmpdir(), 'vl-layout-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const launch = (extra: Partial<QemuLaunch>): string[] =>
  qemuArgs({
    vmId: 'vm-1',
    accel: 'tcg',
    memoryMiB: 128,
    vcpus: 1,
    disk: '/s/vm-1/disk.qcow2',
    pidFile: '/s/p',
    qmpSocket: '/s/q',
    serialSocket: '/s/s',
    serialLog: '/s/l',
    ...extra,
  });
const valueOf = (argv: string[], flag: string): string | undefined => argv[argv.indexOf(flag) + 1];

describe('qemu live-resize layout', () => {
  test('no headroom: the argv of before (-m 128, -smp 1, no global, no DIMM)', () => {
    const argv = launch(
      layoutArgs(launchLayout(dir, { id: 'vm-1', name: 'x', vcpus: 1, memoryMiB: 128, diskGiB: 1 }, false), 1),
    );
    assert.equal(valueOf(argv, '-m'), '128');
    assert.equal(valueOf(argv, '-smp'), '1');
    assert.ok(!argv.includes('-global'));
  });

  test('headroom: maxcpus, slots/maxmem, virtio-blk queues pinned to the vCPU ceiling', () => {
    const spec = { id: 'vm-1', name: 'x', vcpus: 2, maxVcpus: 8, memoryMiB: 256, maxMemoryMiB: 1024, diskGiB: 1 };
    const argv = launch(layoutArgs(launchLayout(dir, spec, false), spec.vcpus));
    assert.equal(valueOf(argv, '-m'), '256M,slots=16,maxmem=1024M');
    assert.equal(valueOf(argv, '-smp'), '2,maxcpus=8');
    assert.equal(valueOf(argv, '-global'), 'virtio-blk-pci.num-queues=8');
  });

  test('a migration target takes the recorded DIMMs when they add up to the spec, else starts from the spec', () => {
    writeLayout(dir, {
      baseMemoryMiB: 128,
      maxMemoryMiB: 512,
      maxVcpus: 4,
      dimms: [{ id: 'vl-dimm-0', sizeMiB: 128 }],
    });
    const grown = { id: 'vm-1', name: 'x', vcpus: 2, maxVcpus: 4, memoryMiB: 256, maxMemoryMiB: 512, diskGiB: 1 };
    const argv = launch(layoutArgs(launchLayout(dir, grown, true), grown.vcpus));
    assert.equal(valueOf(argv, '-m'), '128M,slots=16,maxmem=512M');
    assert.ok(argv.includes('memory-backend-ram,id=vl-mem-0,size=128M'));
    assert.ok(argv.includes('pc-dimm,id=vl-dimm-0,memdev=vl-mem-0'));
    // A plain start forgets them: all of memoryMiB is boot memory.
    assert.deepEqual(launchLayout(dir, grown, false).dimms, []);
    // A record that does not add up (another run's) is not trusted.
    assert.equal(launchLayout(dir, { ...grown, memoryMiB: 384 }, true).baseMemoryMiB, 384);
    assert.throws(() => assertPortableLayout(dir, 'vm-1'), /memory was added to VM vm-1 while it ran/);
    writeLayout(dir, { baseMemoryMiB: 256, maxMemoryMiB: 512, maxVcpus: 4, dimms: [] });
    assert.doesNotThrow(() => assertPortableLayout(dir, 'vm-1'));
  });
});
