/**
 * Cold resize through the API onto a real QEMU (TCG): PATCH /v1/vms/{id} with If-Match on a
 * stopped VM, then start, and the new QEMU process runs with the new -m/-smp and a grown disk.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { createVm, logLength, settledLogLength, startTestApp, type TestApp } from '../../support/app.js';
import { assertError, getVm, runOk } from '../../support/e2e.js';
import { tempDir } from '../../support/env.js';
import { imageInfo } from '../../../src/drivers/kit/qemu-img.js';
import { join } from 'node:path';

const hasQemu = spawnSync('qemu-system-x86_64', ['--version']).status === 0;

/** The argv of the QEMU process running this VM, or undefined. */
function qemuArgv(vmId: string): string[] | undefined {
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const argv = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      if (argv[0]?.includes('qemu-system') && argv.some((a) => a.includes(vmId))) return argv;
    } catch {
      // gone
    }
  }
  return undefined;
}

const after_ = (argv: string[], flag: string) => argv[argv.indexOf(flag) + 1];

describe(
  'qemu: cold resize applied at next start (real QEMU, TCG)',
  { skip: hasQemu ? false : 'qemu-system-x86_64 not installed' },
  () => {
    let t: TestApp;
    const dir = tempDir('vl-qemu-resize-');
    let hostId: string;

    before(async () => {
      t = await startTestApp();
      const res = await t.as('admin').post('/v1/hosts', {
        name: 'qemu-resize',
        driver: 'qemu',
        uri: `qemu:///system?storage=${dir.dir}&stopTimeoutMs=2000&accel=tcg`,
        capacity: { vcpus: 4, memoryMiB: 1024 },
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      hostId = res.body.id as string;
    });
    after(async () => {
      await t?.close();
      dir.cleanup();
    });

    test('vCPUs, memory and disk: past the ceiling refused while running, then the new QEMU has -m 384 -smp 2 and a 2 GiB disk', async () => {
      const { vmId, operation } = await createVm(t, { name: 'rs-1', hostId, vcpus: 1, memoryMiB: 128, diskGiB: 1 });
      assert.equal(operation.status, 'succeeded', JSON.stringify(operation));
      const first = qemuArgv(vmId)!;
      // `128`, or `128M,slots=…,maxmem=…` when the VM has room to grow live.
      assert.match(after_(first, '-m') ?? '', /^128(M,|$)/);
      let etag = (await t.as('viewer').get(`/v1/vms/${vmId}`)).headers.etag as string;
      // Running, it could grow live up to its ceiling (qemu-hot-resize-api.test.ts); past it, only cold.
      const running = await t.as('operator').patch(`/v1/vms/${vmId}`, { memoryMiB: 1024 }).set('If-Match', etag);
      assertError(running, 409, /memoryMiB: 1024 is above the VM's ceiling maxMemoryMiB 512.*stop the VM/);

      await runOk(t, 'post', `/v1/vms/${vmId}/stop`, { force: true });
      etag = (await t.as('viewer').get(`/v1/vms/${vmId}`)).headers.etag as string;
      const before = await settledLogLength(t);
      assertError(await t.as('operator').patch(`/v1/vms/${vmId}`, { memoryMiB: 384 }), 400, 'If-Match');
      assertError(
        await t.as('operator').patch(`/v1/vms/${vmId}`, { diskGiB: 0 }).set('If-Match', etag),
        400,
        'diskGiB',
      );
      assertError(
        await t.as('operator').patch(`/v1/vms/${vmId}`, { memoryMiB: 2048 }).set('If-Match', etag),
        409,
        /has 4 vCPUs and 1024 MiB free for this VM; the VM needs 1 vCPUs and 2048 MiB/,
      );
      assertError(await t.as('operator').patch(`/v1/vms/${vmId}`, { memoryMiB: 384 }).set('If-Match', '"1"'), 412);
      assert.equal(await logLength(t), before, 'a refused resize appends nothing, on the VM or the host');

      const ok = await t
        .as('operator')
        .patch(`/v1/vms/${vmId}`, { vcpus: 2, memoryMiB: 384, diskGiB: 2 })
        .set('If-Match', etag);
      assert.equal(ok.status, 202, JSON.stringify(ok.body));
      const op = await t.as('viewer').get(`/v1/operations/${ok.body.operationId}`);
      assert.equal(op.body.kind, 'resize');
      assert.equal(op.body.status, 'succeeded');
      const vm = await getVm(t, vmId);
      assert.deepEqual([vm.vcpus, vm.memoryMiB, vm.diskGiB], [2, 384, 2]);
      const host = await t.as('viewer').get(`/v1/hosts/${hostId}`);
      assert.deepEqual(host.body.allocated, { vcpus: 2, memoryMiB: 384 });
      etag = (await t.as('viewer').get(`/v1/vms/${vmId}`)).headers.etag as string;
      const smaller = await t.as('operator').patch(`/v1/vms/${vmId}`, { diskGiB: 1 }).set('If-Match', etag);
      assertError(smaller, 400, /diskGiB: a disk only grows \(it has 2 GiB, asked 1\)/);

      await runOk(t, 'post', `/v1/vms/${vmId}/start`);
      const argv = qemuArgv(vmId)!;
      assert.match(after_(argv, '-m') ?? '', /^384(M,|$)/);
      assert.match(after_(argv, '-smp') ?? '', /^2\b/);
      const disk = join(dir.dir, vmId, 'disk.qcow2');
      assert.equal((await imageInfo(disk, { forceShare: true }))['virtual-size'], 2 * 1024 ** 3);
      await runOk(t, 'post', `/v1/vms/${vmId}/stop`, { force: true });
    });

    test('a live migration of a VM with internal snapshots to other storage: 409 naming them, nothing appended', async () => {
      const other = tempDir('vl-qemu-resize-b-');
      try {
        const res = await t.as('admin').post('/v1/hosts', {
          name: 'qemu-resize-b',
          driver: 'qemu',
          uri: `qemu:///system?storage=${other.dir}&stopTimeoutMs=2000&accel=tcg`,
          capacity: { vcpus: 4, memoryMiB: 1024 },
        });
        assert.equal(res.status, 201, JSON.stringify(res.body));
        const { vmId } = await createVm(t, { name: 'rs-snap', hostId, vcpus: 1, memoryMiB: 64, diskGiB: 1 });
        await runOk(t, 'post', `/v1/vms/${vmId}/snapshots`, { name: 'mem1', memory: true });
        const before = await settledLogLength(t);
        const refused = await t
          .as('operator')
          .post(`/v1/vms/${vmId}/migrations`, { targetHostId: res.body.id, live: true });
        assertError(
          refused,
          409,
          /without its internal snapshots \(mem1\); delete them first, or stop the VM and migrate cold/,
        );
        assert.equal(await logLength(t), before);
        await runOk(t, 'delete', `/v1/vms/${vmId}`);
      } finally {
        other.cleanup();
      }
    });
  },
);
