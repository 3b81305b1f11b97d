import type { ChaosRow } from '../chaos-row.js';
import type { ApiClient } from './api-client.js';
import type { Cluster } from './cluster.js';
import { driverFigures, qemuOrphans, type HostRef } from './driver-check.js';
import { ledgerFigures, readLog } from './ledger-check.js';
import type { Operations } from './operations.js';

/** A row plus the reasons it is red: the table prints them, the CI tests assert there are none. */
export interface ScenarioRow extends ChaosRow {
  problems: string[];
}

/** Waits until every subscription of the API process is at the head of the log, twice in a row. */
export async function waitCaughtUp(client: ApiClient, timeoutMs = 60000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let streak = 0;
  while (Date.now() < deadline) {
    const h = await client.get('/health');
    const details = h.body.details as Record<string, { lag?: Record<string, string> }> | undefined;
    const lag = details?.subscriptions?.lag;
    if (h.status === 200 && lag && Object.values(lag).every((v) => v === '0')) {
      if (++streak >= 3) return;
    } else streak = 0;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error('the subscriptions never caught up with the log');
}

/** Every operation the read model knows, including those whose 202 never reached the client (a killed API). */
export async function listAllOperations(
  client: ApiClient,
): Promise<Array<{ id: string; status: string; kind: string }>> {
  const out: Array<{ id: string; status: string; kind: string }> = [];
  let cursor = '0';
  for (let page = 0; page < 1000; page++) {
    const r = await client.get(`/v1/operations?limit=500&cursor=${cursor}`);
    if (r.status !== 200) throw new Error(`GET /v1/operations: ${r.status} ${JSON.stringify(r.body)}`);
    out.push(...(r.body.items as Array<{ id: string; status: string; kind: string }>));
    if (!r.body.next) return out;
    cursor = String(r.body.next);
  }
  return out;
}

export interface VerdictInput {
  fault: string;
  injected: number;
  cluster: Cluster;
  ops: Operations;
  hosts: HostRef[];
  /** Storage dirs whose qemu processes must be one per running/paused VM. */
  qemuDirs?: string[];
  notes?: string[];
  problems?: string[];
  /** Every operation in the read model must be one the client got a 202 for (a refused command recorded nothing). */
  strictAnswers?: boolean;
  /**
   * PostgreSQL: a connection cut while COMMIT is in flight leaves the outcome
   * unknown to the API, which answers 503 although the command may be recorded.
   * Such an operation is reported in the notes (it must still end), not as a problem.
   */
  ambiguousCommitOk?: boolean;
}

/** Counts what a user would check once the run has settled: operations ended, log, drivers, processes. */
export async function verdict(v: VerdictInput): Promise<ScenarioRow> {
  const problems = [...(v.problems ?? [])];
  try {
    await waitCaughtUp(v.cluster.client);
  } catch (err) {
    problems.push(String(err));
  }
  const log = await readLog(v.cluster.eventStoreUrl, v.cluster.dataDir);
  const ledger = ledgerFigures(log, v.ops.ops.keys());
  const drivers = await driverFigures(v.cluster.client, v.hosts);
  const qemu = (await Promise.all((v.qemuDirs ?? []).map((d) => qemuOrphans(v.cluster.client, d)))).flat();
  const verify = await v.cluster.client.get('/v1/audit/verify');
  if (verify.status !== 200 || verify.body.verified !== true)
    problems.push(`hash chain: ${verify.status} ${JSON.stringify(verify.body)}`);
  const neverEnded = [...v.ops.ops.values()].filter(
    (o) => !['succeeded', 'failed', 'cancelled'].includes(o.status ?? ''),
  );
  problems.push(
    ...neverEnded.map((o) => `never ended: ${o.what} (${o.id}) last ${o.status ?? 'unknown'}`),
    ...v.ops.failuresWithoutReason(),
    ...v.ops.unexpected.map((u) => `unexpected answer: ${u}`),
    ...ledger.lost.map((id) => `lost: operation ${id} has no event`),
    ...ledger.duplicates.map((d) => `duplicate: ${d}`),
    ...drivers.disagreements.map((d) => `driver disagrees: ${d}`),
    ...drivers.orphans.map((o) => `orphan: ${o}`),
    ...qemu.map((q) => `qemu: ${q}`),
  );
  let ambiguous = 0;
  for (const o of await listAllOperations(v.cluster.client)) {
    const ended = ['succeeded', 'failed', 'cancelled'].includes(o.status);
    if (!v.ops.ops.has(o.id) && v.strictAnswers && v.ambiguousCommitOk && ended) ambiguous++;
    else if (!v.ops.ops.has(o.id) && v.strictAnswers)
      problems.push(`recorded although not answered 202: ${o.kind} ${o.id}`);
    else if (!v.ops.ops.has(o.id) && !['succeeded', 'failed', 'cancelled'].includes(o.status))
      problems.push(`never ended (answer not received): ${o.kind} ${o.id} is ${o.status}`);
  }
  for (const p of [v.cluster.api, ...v.cluster.workers.values()]) problems.push(...(p?.crashes ?? []));
  const failedOps = [...v.ops.ops.values()].filter((o) => o.status === 'failed');
  const failed = failedOps.length;
  // Why operations failed, ids and numbers blanked so like reasons group together.
  const reasons = new Map<string, number>();
  for (const o of failedOps) {
    const r = String(typeof o.error === 'string' ? o.error : JSON.stringify(o.error))
      .replace(/[0-9a-f]{8}-[0-9a-f-]{27,}/g, '<id>')
      .replace(/\d+/g, 'N')
      .slice(0, 90);
    reasons.set(r, (reasons.get(r) ?? 0) + 1);
  }
  return {
    fault: v.fault,
    injected: v.injected,
    opsStarted: v.ops.started,
    opsEnded: v.ops.ended,
    eventsLost: ledger.lost.length,
    duplicates: ledger.duplicates.length,
    orphans: drivers.orphans.length + qemu.length,
    notes: [
      `${ledger.events} events, ${drivers.vms} VMs confirmed by driver`,
      `${failed} ops failed with a reason${failed ? ` (${[...reasons].map(([r, n]) => `${n}× ${r}`).join(' | ')})` : ''}`,
      `answers ${v.ops.answerSummary()}`,
      ...(v.notes ?? []),
      ...(ambiguous ? [`${ambiguous} answered 503 but committed (COMMIT cut in flight), then ran to the end`] : []),
    ].join('; '),
    problems,
  };
}
