import type { Redis } from 'ioredis';
import type { ReadModelKeys } from '../projections/read-model.keys.js';
import { ENDED_STATUSES, type OperationView } from '../projections/read-model.types.js';

const PAGE = 500;

export interface OperationCount {
  kind: string;
  status: string;
  count: number;
}

/**
 * Operations by kind and status without reading every operation at every scrape:
 * operations are kept forever, but the index is ordered by the log position that
 * opened each one and a finished operation never changes again. So the leading run
 * of finished operations is counted once and remembered (with the position it ends
 * at); each census reads only what follows it. A read model that shrank (Redis wiped,
 * not yet rebuilt) is counted again from the start.
 */
export class OperationTally {
  private settled = new Map<string, OperationCount>();
  private settledCount = 0;
  /** Index score (log position) of the last operation in the settled run; -inf before any. */
  private settledUpTo = '-inf';

  constructor(
    private readonly redis: Redis,
    private readonly keys: ReadModelKeys,
  ) {}

  async count(): Promise<OperationCount[]> {
    const index = this.keys.operationIndex();
    if ((await this.redis.zcard(index)) < this.settledCount) this.reset();
    const live = new Map<string, OperationCount>();
    let growing = true;
    let from = this.settledUpTo === '-inf' ? '-inf' : `(${this.settledUpTo}`;
    for (;;) {
      const page = await this.redis.zrangebyscore(index, from, '+inf', 'WITHSCORES', 'LIMIT', 0, PAGE);
      if (page.length === 0) break;
      const ids: string[] = [];
      const scores: string[] = [];
      for (let i = 0; i < page.length; i += 2) {
        ids.push(page[i]!);
        scores.push(page[i + 1]!);
      }
      const raws = await this.redis.mget(ids.map((id) => this.keys.operation(id)));
      raws.forEach((raw, i) => {
        // An index entry without its record ends the settled run: it is counted once it reads.
        if (raw == null) {
          growing = false;
          return;
        }
        const op = JSON.parse(raw) as Pick<OperationView, 'kind' | 'status'>;
        // Scores are unique log positions: the settled run ends exactly at the last finished one.
        growing &&= ENDED_STATUSES.has(op.status);
        if (growing) {
          add(this.settled, op);
          this.settledCount++;
          this.settledUpTo = scores[i]!;
        } else add(live, op);
      });
      if (ids.length < PAGE) break;
      from = `(${scores[scores.length - 1]!}`;
    }
    const total = new Map<string, OperationCount>();
    for (const c of [...this.settled.values(), ...live.values()]) {
      const key = `${c.kind}\u0000${c.status}`;
      const t = total.get(key) ?? { kind: c.kind, status: c.status, count: 0 };
      t.count += c.count;
      total.set(key, t);
    }
    return [...total.values()];
  }

  private reset(): void {
    this.settled = new Map();
    this.settledCount = 0;
    this.settledUpTo = '-inf';
  }
}

function add(into: Map<string, OperationCount>, op: { kind: string; status: string }): void {
  const key = `${op.kind}\u0000${op.status}`;
  const entry = into.get(key) ?? { kind: op.kind, status: op.status, count: 0 };
  entry.count++;
  into.set(key, entry);
}
