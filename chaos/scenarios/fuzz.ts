/**
 * Abuse: the route fuzzer at full size (5000 requests; --quick 500) against the
 * real in-process app on a real store and Redis. FUZZ_SEED reproduces a run.
 * Red when a request got a 5xx, a refused request appended an event, a file
 * appeared outside a host's storage, a prototype was polluted, or an accepted
 * command never ended.
 */
import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import type { ChaosRow } from '../chaos-row.js';
import { startTestApp, waitOperation } from '../../test/support/app.js';
import { formatReport, runFuzz } from '../../test/support/fuzz-run.js';

export async function run(opts: { quick?: boolean }): Promise<ChaosRow & { problems: string[] }> {
  const runs = Number(process.env.FUZZ_RUNS ?? (opts.quick ? 500 : 5000));
  const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
  const t = await startTestApp();
  try {
    await t.app.listen(0, '127.0.0.1');
    const port = (t.app.getHttpServer().address() as AddressInfo).port;
    const report = await runFuzz({ t, port, runs, seed, log: (l) => console.log(l) });
    console.log(formatReport(report));
    let ended = 0;
    const unfinished: string[] = [];
    for (const op of report.operations) {
      try {
        await waitOperation(t, op, 30000);
        ended++;
      } catch (err) {
        unfinished.push(`operation ${op} never ended: ${(err as Error).message}`);
      }
    }
    // Commands whose request event is missing from the log were accepted and lost.
    const events = await t.runtime.store!.readAll({ maxCount: 1_000_000 });
    const recorded = new Set(events.map((e) => e.metadata.correlationId));
    const lost = report.operations.filter((op) => !recorded.has(op)).length;
    const duplicates = report.operations.length - new Set(report.operations).size;
    const by = (lo: number, hi: number) =>
      Object.entries(report.statuses)
        .filter(([s]) => Number(s) >= lo && Number(s) < hi)
        .reduce((n, [, c]) => n + c, 0);
    return {
      fault: 'fuzz every route',
      injected: report.tried,
      opsStarted: report.operations.length,
      opsEnded: ended,
      eventsLost: lost,
      duplicates,
      orphans: report.fileLeaks,
      notes: `seed=${seed} routes=${report.routes} 2xx=${by(200, 300)} 4xx=${by(400, 500)} 5xx=${by(500, 600)} violations=${report.violations.length}`,
      problems: [...report.violations, ...unfinished],
    };
  } finally {
    await t.close();
  }
}
