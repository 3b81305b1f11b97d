import { createEventStore } from '../../src/eventstore/create-event-store.js';
import type { RecordedEvent } from '../../src/eventstore/event-store.port.js';

/** The whole log, read straight from the store the processes write to (after they settled). */
export async function readLog(eventStoreUrl: string, dataDir: string): Promise<RecordedEvent[]> {
  const store = createEventStore(eventStoreUrl, { dataDir });
  await store.init();
  try {
    const out: RecordedEvent[] = [];
    let after: bigint | undefined;
    for (;;) {
      const page = await store.readAll({ ...(after !== undefined ? { after } : {}), maxCount: 1000 });
      if (!page.length) return out;
      out.push(...page);
      after = page[page.length - 1]!.position;
    }
  } finally {
    await store.close();
  }
}

/** Events that may legitimately repeat within one operation. */
const REPEATABLE = new Set(['VmMigrationProgressed', 'VmStateReconciled', 'VmCrashed']);

export interface LedgerFigures {
  /** Accepted operations with no event in the log. */
  lost: string[];
  /** (stream, operation, type, step) seen more than once: a result appended twice. */
  duplicates: string[];
  events: number;
}

/**
 * What the log says about the accepted operations: each one recorded, and no
 * operation's event appended twice (a redelivered job, a replayed saga).
 */
export function ledgerFigures(log: RecordedEvent[], accepted: Iterable<string>): LedgerFigures {
  const byOp = new Set(log.map((e) => e.metadata.correlationId));
  const lost = [...new Set(accepted)].filter((id) => !byOp.has(id));
  const seen = new Map<string, number>();
  for (const e of log) {
    const opId = e.data.operationId;
    if (typeof opId !== 'string' || REPEATABLE.has(e.type)) continue;
    const step = typeof e.data.step === 'string' ? e.data.step : '';
    const key = `${e.streamId}/${opId}/${e.type}/${step}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
  }
  const duplicates = [...seen.entries()].filter(([, n]) => n > 1).map(([k, n]) => `${k} ×${n}`);
  return { lost, duplicates, events: log.length };
}
