/**
 * A host dies during its own evacuation: its worker is killed -9 after the first VMs have moved
 * and while the other migrations wait for it. The control plane sees it unreachable; an admin
 * fences it; the migrations still waiting for the dead host end (failed, naming the fence), so
 * the evacuation ends with a result naming every VM it could not move. No VM is lost (each is
 * moved and runs on the target, or is recorded as down with its fenced host) or doubled (no
 * driver runs it on two hosts). The host then comes back and the drivers must agree with the log.
 */
import { Cluster } from '../support/cluster.js';
import type { HostRef } from '../support/driver-check.js';
import { Operations } from '../support/operations.js';
import { verdict, type ScenarioRow } from '../support/verdict.js';
import { createVms } from '../support/workload.js';
import { waitFor } from '../../test/support/wait.js';

export interface EvacuationSize {
  vms: number;
}

interface EvacuationView {
  status: string;
  error: string | null;
  progress?: { done?: number; total?: number };
  result?: { moved: Array<{ vmId: string }>; notMoved: Array<{ vmId: string; reason: string }> };
}

export async function runEvacuation(size: EvacuationSize): Promise<ScenarioRow> {
  const c = await Cluster.start({
    name: 'host-dies-evacuating',
    env: { HOST_DEAD_MS: '3000', WORKER_CONCURRENCY: '2', JOB_ATTEMPTS: '1' },
  });
  let keep = false;
  const problems: string[] = [];
  const notes: string[] = [];
  try {
    await c.startApi('api');
    // Slow enough that one migration takes a few seconds: the kill lands between the first and the last.
    const uri = 'simulated://?latencyMs=400';
    const a = await c.registerHost('evac-a', 'simulated', uri);
    const b = await c.registerHost('evac-b', 'simulated', uri);
    const hosts: HostRef[] = [a, b].map((id) => ({ id, driver: 'simulated', uri, storageDir: c.hostStorage(id) }));
    const wa = c.worker('worker-a', [a]);
    const wb = c.worker('worker-b', [b]);
    wa.start();
    wb.start();
    const ops = new Operations(c.client);
    const vmIds = await createVms(
      ops,
      Array.from({ length: size.vms }, (_, i) => ({ name: `ev-${i}`, hostId: a })),
      120000,
    );
    const started = await ops.send('POST', `/v1/hosts/${a}/evacuate`, { reason: 'chaos: maintenance' });
    if (started.status !== 202) throw new Error(`evacuate: ${started.status} ${JSON.stringify(started.body)}`);
    const evId = started.body.operationId as string;
    const evacuation = async () => (await c.client.get(`/v1/operations/${evId}`)).body as unknown as EvacuationView;

    // Mid-way: at least one VM moved, not all of them.
    const before = await waitFor(
      async () => {
        const e = await evacuation();
        return (e.progress?.done ?? 0) >= 1 ? e : undefined;
      },
      { what: 'the first VM to move', timeoutMs: 120000, intervalMs: 200 },
    );
    if ((before.progress?.done ?? 0) >= (before.progress?.total ?? 0)) notes.push('every VM moved before the kill');
    await wa.kill9();
    await waitFor(
      async () => {
        const h = await c.client.get(`/v1/hosts/${a}`);
        return h.body.state === 'unreachable' ? true : undefined;
      },
      { what: 'the host to read unreachable', timeoutMs: 60000, intervalMs: 200 },
    );
    const fence = await c.client.post(`/v1/hosts/${a}/fence`, { reason: 'chaos: the host died mid-evacuation' });
    if (fence.status !== 200) problems.push(`fence: ${fence.status} ${JSON.stringify(fence.body)}`);

    await ops.waitOne(evId, 120000);
    const ev = await evacuation();
    const moved = new Set(ev.result?.moved.map((m) => m.vmId) ?? []);
    const notMoved = ev.result?.notMoved ?? [];
    if (!['succeeded', 'failed'].includes(ev.status)) problems.push(`the evacuation did not end: ${ev.status}`);
    if (moved.size + notMoved.length !== vmIds.length)
      problems.push(`the evacuation accounts for ${moved.size + notMoved.length} of ${vmIds.length} VMs`);
    if (moved.size < vmIds.length && ev.status !== 'failed')
      problems.push(`VMs did not move but the evacuation reads ${ev.status}`);
    for (const n of notMoved) if (!n.reason) problems.push(`${n.vmId} not moved without a reason`);
    // Each VM is on the target running, or down with its fenced host: none lost.
    for (const id of vmIds) {
      const v = (await c.client.get(`/v1/vms/${id}`)).body as unknown as {
        state: string;
        hostId: string;
        crash: { fence?: { hostId: string } } | null;
      };
      const onTarget = v.hostId === b && v.state === 'running' && moved.has(id);
      const downWithHost = v.hostId === a && v.state === 'crashed' && v.crash?.fence?.hostId === a;
      if (!onTarget && !downWithHost) problems.push(`lost: ${id} reads ${v.state} on ${v.hostId}`);
    }
    notes.push(`moved ${moved.size}, not moved ${notMoved.length} (${notMoved[0]?.reason.slice(0, 60) ?? ''})`);

    // The host comes back: its worker's reconciler reports what really runs there, the log follows.
    wa.start();
    await waitFor(
      async () => {
        const h = await c.client.get(`/v1/hosts/${a}`);
        return h.body.state === 'draining' || h.body.state === 'active' ? true : undefined;
      },
      { what: 'the host back in service', timeoutMs: 60000, intervalMs: 200 },
    );
    await ops.waitAll(120000);
    await waitFor(
      async () => {
        const r = await c.client.get(`/v1/vms?hostId=${a}`);
        const items = (r.body.items ?? []) as Array<{ state: string }>;
        return r.status === 200 && items.every((v) => v.state !== 'crashed') ? true : undefined;
      },
      { what: 'the returned host reconciled', timeoutMs: 60000, intervalMs: 200 },
    ).catch((err: unknown) => problems.push(String(err)));
    const row = await verdict({
      fault: 'host dies mid-evacuation',
      injected: 1,
      cluster: c,
      ops,
      hosts,
      problems,
      notes,
    });
    keep = row.problems.length > 0;
    return row;
  } finally {
    await c.close(keep);
  }
}

export async function run(opts: { quick?: boolean }): Promise<ScenarioRow> {
  return runEvacuation({ vms: opts.quick ? 4 : 10 });
}
