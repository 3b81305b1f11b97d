/**
 * Live resize through the API as a user does it, on a real QEMU (TCG) booting the test guest:
 * PATCH /v1/vms/{id} with If-Match on a running VM → 202 → a `resize` operation the host's worker
 * carries out → the same QEMU process keeps running and the guest itself sees the new vCPU, the
 * new DIMM and the larger disk (read through the console WebSocket). What the control plane knows
 * up front is refused before any event: past a ceiling, memory not in the host's DIMM steps, a
 * stale ETag, more than the host has free, a live migration to other storage after memory was given live.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { logLength, settledLogLength, startTestApp, TOKENS, waitOperation, type TestApp } from '../../support/app.js';
import { ConsoleClient } from '../../support/console-client.js';
import { assertError, getVm } from '../../support/e2e.js';
import { tempDir } from '../../support/env.js';
import { putImage } from '../../support/image-files.js';
import { waitFor } from '../../support/wait.js';
import { ONLINE_HOTPLUGGED, guestBundle } from './guest-console.js';

const hasQemu = spawnSync('qemu-system-x86_64', ['--version']).status === 0;

/** The pid of the QEMU process running this VM, or undefined. */
function qemuPid(vmId: string): number | undefined {
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const argv = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      if (argv[0]?.includes('qemu-system') && argv.some((a) => a.includes(vmId))) return Number(d);
    } catch {
      // gone
    }
  }
  return undefined;
}

let marker = 10_000 + Math.floor(Math.random() * 50_000);

/** Types `cmd` in the guest's shell and returns the number it printed (the typed echo never matches: it holds `$(…)`). */
async function guestNumber(con: ConsoleClient, cmd: string): Promise<number> {
  const n = ++marker;
  const seen = con.output.length;
  con.type(`${ONLINE_HOTPLUGGED}echo N$((${n}+0))=$(${cmd})=E\n`);
  const re = new RegExp(`N${n}=(\\d+)=E`);
  let value: number | undefined;
  await waitFor(
    () => {
      const m = re.exec(con.output.slice(seen));
      if (m) value = Number(m[1]);
      return m !== null;
    },
    { what: `the guest's answer to ${cmd}`, timeoutMs: 30_000 },
  ).catch((err: Error) => {
    throw new Error(`${err.message}; console: ${JSON.stringify(con.output.slice(-400))}`);
  });
  return value!;
}

describe(
  'qemu: live resize through the API (real QEMU under TCG, the guest sees it)',
  { skip: hasQemu ? false : 'qemu-system-x86_64 not installed' },
  () => {
    let t: TestApp;
    let port: number;
    let vmId: string;
    const storage = tempDir('vl-qemu-hot-api-');
    const hostId = 'qemu-hot-api';

    before(async () => {
      t = await startTestApp();
      await t.app.listen(0, '127.0.0.1');
      port = (t.app.getHttpServer().address() as AddressInfo).port;
      const host = await t.as('admin').post('/v1/hosts', {
        id: hostId,
        name: hostId,
        driver: 'qemu',
        uri: `qemu:///system?storage=${storage.dir}&stopTimeoutMs=2000&accel=tcg`,
        capacity: { vcpus: 4, memoryMiB: 1024 },
      });
      assert.equal(host.status, 201, JSON.stringify(host.body));
      assert.equal(host.body.capabilities.hotResize.memoryStepMiB, 128, JSON.stringify(host.body.capabilities));
      const bundle = guestBundle();
      const up = await putImage(t, 'guest', bundle);
      assert.equal(up.status, 201, JSON.stringify(up.body));
      const res = await t
        .as('operator')
        .post('/v1/vms', { name: 'hot-vm', vcpus: 1, memoryMiB: 256, diskGiB: 1, hostId, image: 'guest' });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      vmId = res.body.vmId as string;
      assert.equal((await waitOperation(t, res.body.operationId as string, 90_000)).status, 'succeeded');
    });

    after(async () => {
      if (vmId) await t?.as('admin').delete(`/v1/vms/${vmId}`);
      if (vmId) await waitFor(() => qemuPid(vmId) === undefined, { what: 'the VM to be gone', timeoutMs: 60_000 });
      await t?.close();
      storage.cleanup();
    });

    test('refused up front with nothing appended, then vCPU, memory and disk grow live in the same QEMU', async () => {
      const vm = await getVm(t, vmId);
      assert.deepEqual([vm.maxVcpus, vm.maxMemoryMiB], [4, 1024], 'the default ceilings: 4× the size');
      const etag = (await t.as('viewer').get(`/v1/vms/${vmId}`)).headers.etag as string;
      const patch = (body: object, ifMatch = etag) =>
        t.as('operator').patch(`/v1/vms/${vmId}`, body).set('If-Match', ifMatch);

      const logBefore = await settledLogLength(t);
      assertError(await patch({ vcpus: 5 }), 409, /vcpus: 5 is above the VM's ceiling maxVcpus 4/);
      assertError(await patch({ memoryMiB: 300 }), 400, /memoryMiB: .* steps of 128 MiB \(it has 256, asked 300\)/);
      assertError(await patch({ vcpus: 2 }, '"1"'), 412);
      assertError(await patch({ memoryMiB: 1152 }), 409, /memoryMiB/);
      assertError(
        await patch({ memoryMiB: 128 }),
        422,
        /can only add memory to a running VM \(it has 256, asked 128\)/,
      );
      assert.equal(await logLength(t), logBefore, 'a refused live resize appends nothing, on the VM or the host');

      // The guest's shell answers once it has booted.
      await waitFor(
        async () => {
          const res = await t.as('viewer').get(`/v1/vms/${vmId}/console/log?tail=200`);
          return res.status === 200 && (res.body.lines as string[]).some((l) => l.includes('GUEST-READY'));
        },
        { what: 'GUEST-READY in the console log', timeoutMs: 120_000, intervalMs: 500 },
      );
      const con = await ConsoleClient.open(port, vmId, { token: TOKENS.operator });
      try {
        assert.equal(await guestNumber(con, 'nproc'), 1);
        const memBefore = await guestNumber(con, "grep MemTotal /proc/meminfo | tr -dc '0-9'");
        const pid = qemuPid(vmId);
        assert.ok(pid);

        const res = await patch({ vcpus: 2, memoryMiB: 384, diskGiB: 2 });
        assert.equal(res.status, 202, JSON.stringify(res.body));
        const op = await waitOperation(t, res.body.operationId as string, 90_000);
        assert.equal(op.kind, 'resize');
        assert.equal(op.status, 'succeeded', JSON.stringify(op));
        const resized = await getVm(t, vmId);
        assert.deepEqual([resized.state, resized.vcpus, resized.memoryMiB, resized.diskGiB], ['running', 2, 384, 2]);
        const host = await t.as('viewer').get(`/v1/hosts/${hostId}`);
        assert.deepEqual(host.body.allocated, { vcpus: 2, memoryMiB: 384 });
        assert.equal(qemuPid(vmId), pid, 'the same QEMU process: resized live, not restarted');

        // The ACPI hot-plug is handled asynchronously in the guest: ask until it shows.
        await waitFor(async () => (await guestNumber(con, 'nproc')) === 2, {
          what: 'the guest to run on 2 CPUs',
          timeoutMs: 60_000,
        });
        const memAfter = await guestNumber(con, "grep MemTotal /proc/meminfo | tr -dc '0-9'");
        assert.equal(Math.round((memAfter - memBefore) / 1024), 128, 'one 128 MiB DIMM more in MemTotal');
        assert.equal(await guestNumber(con, 'cat /sys/block/vda/size'), (2 * 1024 ** 3) / 512);
      } finally {
        await con.close();
      }

      // The DIMM cannot follow a live migration to other storage: refused before any event.
      const other = tempDir('vl-qemu-hot-api-b-');
      try {
        const b = await t.as('admin').post('/v1/hosts', {
          name: 'qemu-hot-api-b',
          driver: 'qemu',
          uri: `qemu:///system?storage=${other.dir}&stopTimeoutMs=2000&accel=tcg`,
          capacity: { vcpus: 4, memoryMiB: 1024 },
        });
        assert.equal(b.status, 201, JSON.stringify(b.body));
        const before = await settledLogLength(t);
        const refused = await t
          .as('operator')
          .post(`/v1/vms/${vmId}/migrations`, { targetHostId: b.body.id, live: true });
        assertError(refused, 409, /given 128 MiB of memory live since it started.*stop and start it/);
        assert.equal(await logLength(t), before);
      } finally {
        other.cleanup();
      }
    });
  },
);
