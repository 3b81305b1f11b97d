/**
 * Fault 3: Redis (queues and read models) killed under load and started again
 * empty after the outage. A command during the outage is refused with 503 or
 * accepted and finished after Redis returns (its request event is in the
 * store, and the saga enqueues from its checkpoint); jobs lost with the wipe
 * are put back by the saga runner (it notices the queues are new and
 * re-enqueues the awaited job of every pending operation under the same job
 * id), so every accepted operation runs and succeeds; the read models rebuild
 * from the log. Nothing accepted is lost.
 */
import { Cluster } from '../support/cluster.js';
import { Operations } from '../support/operations.js';
import { commandsThroughOutage } from '../support/outage.js';
import { verdict, type ScenarioRow } from '../support/verdict.js';
import { createVms } from '../support/workload.js';

export async function runOutage(outageMs: number, vms: number): Promise<ScenarioRow> {
  const c = await Cluster.start({ name: 'redis-outage' });
  let keep = false;
  try {
    const uri = 'simulated://?latencyMs=300';
    const { hostId, hosts } = await c.startWithHost('sim', 'simulated', uri);
    const ops = new Operations(c.client, new Set([409, 503]));
    const vmIds = await createVms(
      ops,
      Array.from({ length: vms }, (_, i) => ({ name: `ro-${i}`, hostId })),
      60000,
    );
    const out = await commandsThroughOutage(c.client, ops, vmIds, {
      outageMs,
      hostId,
      seed: 23,
      expectMessage: /unavailable/,
      cut: () => c.redis.kill(),
      restore: () => c.redis.start(),
    });
    await ops.waitAll(180000);
    // The hosts never fail a call: an operation that failed was accepted and then dropped (its job lost with Redis).
    const dropped = [...ops.ops.values()]
      .filter((o) => o.status === 'failed')
      .map((o) => `accepted but not run: ${o.what}: ${JSON.stringify(o.error)}`);
    const row = await verdict({
      fault: 'Redis down, back empty',
      injected: 1,
      cluster: c,
      ops,
      hosts,
      problems: [...out.problems, ...dropped],
      strictAnswers: true,
      notes: [`${outageMs / 1000} s outage: ${out.refusedDuringOutage}×503, ${out.acceptedDuringOutage}×202`],
    });
    keep = row.problems.length > 0;
    return row;
  } finally {
    await c.close(keep);
  }
}

export async function run(opts: { quick?: boolean }): Promise<ScenarioRow> {
  return opts.quick ? runOutage(4000, 2) : runOutage(10000, 6);
}
