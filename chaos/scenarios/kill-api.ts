/**
 * Fault 2: `kill -9` the API/saga process between appending a request event
 * and enqueueing its job. The deterministic window comes from a test-only
 * fault point (VL_FAULT_CRASH_BEFORE_ENQUEUE, src/application/fault-points.ts):
 * the process SIGKILLs itself when the saga is about to enqueue a job for the
 * chosen step. After a restart the saga resumes from its checkpoint and the
 * job runs once: one result, and the simulated domain booted once.
 * The full run adds kills at random moments under load.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ApiClient } from '../support/api-client.js';
import { Cluster } from '../support/cluster.js';
import { readLog } from '../support/ledger-check.js';
import { Operations } from '../support/operations.js';
import { mulberry32 } from '../../src/drivers/simulated/prng.js';
import { verdict, type ScenarioRow } from '../support/verdict.js';
import { createVms, runChains } from '../support/workload.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A step, the request that makes the saga enqueue it, and the VM state that request needs. */
interface CrashPoint {
  step: 'define' | 'start' | 'stop' | 'pause';
  path: (vmId: string) => string;
  body?: object;
}

const POINTS: CrashPoint[] = [
  { step: 'start', path: (id) => `/v1/vms/${id}/start` },
  { step: 'pause', path: (id) => `/v1/vms/${id}/pause` },
  { step: 'stop', path: (id) => `/v1/vms/${id}/stop`, body: { force: true } },
];

/** The operation of a request whose answer may have been lost with the process: read it from the VM's history. */
async function lastOperationOf(client: ApiClient, vmId: string): Promise<string | undefined> {
  const r = await client.get(`/v1/vms/${vmId}/events?limit=1000`);
  const items = (r.body.items ?? []) as Array<{ type: string; data: { operationId?: string } }>;
  return [...items].reverse().find((e) => e.type.endsWith('Requested'))?.data.operationId;
}

function bootCount(storageDir: string, vmId: string): number {
  const d = JSON.parse(readFileSync(join(storageDir, `${vmId}.sim.json`), 'utf8')) as { bootCount: number };
  return d.bootCount;
}

export async function run(opts: { quick?: boolean }): Promise<ScenarioRow> {
  const c = await Cluster.start({ name: 'kill-api' });
  let keep = false;
  try {
    const uri = 'simulated://?latencyMs=100';
    const { hostId, hosts } = await c.startWithHost('sim', 'simulated', uri);
    const ops = new Operations(c.client, new Set([0, 409, 503]));
    const problems: string[] = [];
    let injected = 0;

    // Phase 1: the exact window, once per step (define through a create with start: false).
    await c.api.stop();
    c.api.start({ VL_FAULT_CRASH_BEFORE_ENQUEUE: 'define' });
    c.api.expectDeath();
    await c.client.waitHealthy(60000);
    const points = opts.quick ? POINTS.slice(0, 1) : POINTS;
    /** Waits for the crash, restarts the API and follows the operation (found in the log when its 202 was lost). */
    const afterCrash = async (
      step: string,
      path: string,
      answered: string | undefined,
      findVm: () => Promise<string | undefined>,
    ) => {
      const code = await Promise.race([c.api.exited(), sleep(20000).then(() => 'alive' as const)]);
      if (code === 'alive') problems.push(`the API did not crash at the ${step} fault point`);
      else injected++;
      if (code === 'alive') await c.api.stop();
      c.api.start();
      await c.client.waitHealthy(60000);
      const vmId = await findVm();
      if (!vmId) {
        problems.push(`${step}: the VM was lost`);
        return undefined;
      }
      const opId = answered ?? (await lastOperationOf(c.client, vmId));
      if (!opId) {
        problems.push(`${step}: no operation recorded for VM ${vmId}`);
        return undefined;
      }
      if (!ops.ops.has(opId)) ops.ops.set(opId, { id: opId, vmId, what: `${path} (answer lost with the process)` });
      const op = await ops.waitOne(opId, 60000);
      if (op?.status !== 'succeeded') problems.push(`${step} after the crash: ${JSON.stringify(op)}`);
      return vmId;
    };
    const create = await ops.send('POST', '/v1/vms', {
      name: 'ka-0',
      vcpus: 1,
      memoryMiB: 64,
      diskGiB: 1,
      hostId,
      start: false,
    });
    // A create's 202 may go down with the process; the VM is in the log all the same, found by name.
    const vmId = await afterCrash(
      'define',
      'POST /v1/vms',
      create.body.operationId as string | undefined,
      async () =>
        (create.body.vmId as string | undefined) ??
        ((await c.client.get('/v1/vms?limit=1000')).body.items as Array<{ id: string; name: string }>).find(
          (v) => v.name === 'ka-0',
        )?.id,
    );
    const vms = vmId ? [vmId] : [];
    for (const p of points) {
      if (!vmId) break;
      await c.api.stop();
      c.api.start({ VL_FAULT_CRASH_BEFORE_ENQUEUE: p.step });
      c.api.expectDeath();
      await c.client.waitHealthy(60000);
      const r = await ops.send('POST', p.path(vmId), p.body);
      await afterCrash(
        p.step,
        p.path(vmId),
        r.status === 202 ? (r.body.operationId as string) : undefined,
        async () => vmId,
      );
    }
    // Each crashed step ran once: one result per operation (the verdict counts) and one boot.
    if (vmId) {
      const boots = bootCount(hosts[0]!.storageDir, vmId);
      const starts = (await readLog(c.eventStoreUrl, c.dataDir)).filter(
        (e) => e.streamId === `vm-${vmId}` && e.type === 'VmStarted',
      ).length;
      if (boots !== starts) problems.push(`VM ${vmId} booted ${boots} times for ${starts} VmStarted events`);
    }

    // Phase 2 (full run): kill -9 at random moments while users run commands.
    if (!opts.quick) {
      const rnd = mulberry32(42);
      const ids = await createVms(
        ops,
        Array.from({ length: 6 }, (_, i) => ({ name: `kr-${i}`, hostId })),
        120000,
      );
      vms.push(...ids);
      let busy = true;
      const killer = (async () => {
        while (busy) {
          await sleep(2000 + rnd() * 3000);
          if (!busy) break;
          await c.api.kill9();
          injected++;
          await sleep(300);
          c.api.start();
          await c.client.waitHealthy(60000);
        }
      })();
      try {
        await runChains(c.client, ops, ids, { commandsPerVm: 25, opTimeoutMs: 120000, seed: 9, deleteEvery: 3 });
      } finally {
        busy = false;
      }
      await killer;
    }
    await ops.waitAll(120000);
    const row = await verdict({
      fault: 'kill -9 API between append and enqueue',
      injected,
      cluster: c,
      ops,
      hosts,
      problems,
      notes: [
        `fault points ${['define', ...points.map((p) => p.step)].join(',')}${opts.quick ? '' : ' + random kills under load'}`,
      ],
    });
    keep = row.problems.length > 0;
    return row;
  } finally {
    await c.close(keep);
  }
}
