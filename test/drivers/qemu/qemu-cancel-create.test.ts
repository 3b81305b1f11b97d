/**
 * A create cancelled while its start is in flight, against real QEMU: the host's QEMU binary is a
 * gate that waits for a file before it execs qemu-system-x86_64, so the start hangs exactly until
 * the test opens it (after the cancel). Whatever the aborted call then leaves (the disk, a running
 * QEMU) is destroyed by the create's compensation, and the reservation is released.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startTestApp, waitOperation, type TestApp } from '../../support/app.js';
import { waitAllocated } from '../../support/e2e.js';
import { tempDir } from '../../support/env.js';
import { waitFor } from '../../support/wait.js';

const hasQemu = spawnSync('qemu-system-x86_64', ['--version']).status === 0;

/** Files under the host's storage that belong to the VM (its directory and what is in it). */
function filesOf(storage: string, vmId: string): string[] {
  return (readdirSync(storage, { recursive: true }) as string[]).filter((p) => p.includes(vmId));
}

/** Pids of QEMU processes started for this VM (its id is in their argv). */
function qemuOf(vmId: string): number[] {
  const pids: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const argv = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (argv.includes('qemu-system') && argv.includes(vmId)) pids.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

describe(
  'a cancelled create cleans up on real QEMU',
  { skip: hasQemu ? false : 'qemu-system-x86_64 not installed' },
  () => {
    let t: TestApp;
    const dir = tempDir('vl-qcancel-create-');
    const storage = join(dir.dir, 'vms');
    const gate = join(dir.dir, 'gate');
    const spawned = join(dir.dir, 'spawned');
    const hostId = `qcc-${randomUUID().slice(0, 8)}`;

    before(async () => {
      const wrapper = join(dir.dir, 'gated-qemu');
      writeFileSync(
        wrapper,
        // `spawned` says the start reached the spawn (the define is done): the gate holds it there.
        `#!/bin/sh\n: > '${spawned}'\nwhile [ ! -e '${gate}' ]; do sleep 0.05; done\nexec qemu-system-x86_64 "$@"\n`,
      );
      chmodSync(wrapper, 0o755);
      t = await startTestApp();
      const res = await t.as('admin').post('/v1/hosts', {
        id: hostId,
        name: hostId,
        driver: 'qemu',
        uri: `qemu:///system?storage=${storage}&accel=tcg&qemuBinary=${wrapper}`,
        capacity: { vcpus: 8, memoryMiB: 4096 },
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
    });
    after(async () => {
      writeFileSync(gate, '');
      await t?.close();
      dir.cleanup();
    });

    test('cancelled in start: failed and cancelled; the disk and the QEMU the host made are gone; capacity back', async () => {
      const create = await t
        .as('operator')
        .post('/v1/vms', { name: 'gated', vcpus: 1, memoryMiB: 64, diskGiB: 1, hostId });
      assert.equal(create.status, 202, JSON.stringify(create.body));
      const { vmId, operationId } = create.body as { vmId: string; operationId: string };
      // Defined (the disk exists) and the start is running: the gate holds QEMU back. Define and
      // start are one job, which reports both once the start ends: the log still says `define`.
      await waitFor(
        async () => {
          const op = await t.as('viewer').get(`/v1/operations/${operationId}`);
          // The storage dir exists only once the define has begun: the gate first.
          return (
            existsSync(spawned) &&
            op.body.status === 'running' &&
            filesOf(storage, vmId).some((f) => f.endsWith('.qcow2'))
          );
        },
        { what: 'the create running its start step (disk made, QEMU held at the gate)', timeoutMs: 60_000 },
      );

      const res = await t.as('operator').delete(`/v1/operations/${operationId}`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.status, 'cancelled');
      assert.equal((await t.as('viewer').get(`/v1/vms/${vmId}`)).body.state, 'failed');
      // Let the aborted start finish whatever it can: QEMU really comes up, then is destroyed.
      writeFileSync(gate, '');
      await waitFor(() => filesOf(storage, vmId).length === 0 && qemuOf(vmId).length === 0, {
        what: `no file and no QEMU of ${vmId} left (files: ${filesOf(storage, vmId).join(', ')})`,
        timeoutMs: 60_000,
      });
      await waitAllocated(t, hostId, { vcpus: 0, memoryMiB: 0 });
      const domains = await t.as('operator').get(`/v1/hosts/${hostId}/domains`);
      assert.equal(domains.status, 200, JSON.stringify(domains.body));
      assert.ok(!(domains.body.items as { vmId: string }[]).some((d) => d.vmId === vmId), JSON.stringify(domains.body));
      // The failed VM is still deletable (the destroy finds nothing, which is the end state asked for).
      const del = await t.as('operator').delete(`/v1/vms/${vmId}`);
      assert.equal((await waitOperation(t, del.body.operationId, 60_000)).status, 'succeeded');
    });
  },
);
