import type { Redis } from 'ioredis';
import {
  DEAD_DELIVERIES_FIELD,
  DEAD_ENTRY_FIELD,
  DEAD_REASON_FIELD,
  deadResultsKey,
  RESULT_ID_FIELD,
  RESULT_MESSAGE_FIELD,
  RESULTS_GROUP,
  resultsStreamKey,
  streamField,
  type DeadResult,
  type ResultCounts,
} from '../application/jobs.js';

/** A dead-lettered result as Redis keeps it: its entry id and flat fields. */
type Entry = [string, string[]];

/**
 * Retry in one step on the server: the entry leaves the dead-letter stream and its result goes back on
 * the results stream together, only if it was still there. Two operators retrying the same entry at
 * once add it once; a Redis that drops mid-way can neither lose it nor leave it in both places.
 * The dead-letter fields (entry, reason, deliveries) stay behind: the result goes back as it was posted.
 */
const RETRY_SCRIPT = `
local e = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
if #e == 0 then return false end
local f = e[1][2]
local keep = {}
for i = 1, #f, 2 do
  if f[i] ~= ARGV[2] and f[i] ~= ARGV[3] and f[i] ~= ARGV[4] then
    keep[#keep + 1] = f[i]
    keep[#keep + 1] = f[i + 1]
  end
end
redis.call('XDEL', KEYS[1], ARGV[1])
redis.call('XADD', KEYS[2], '*', unpack(keep))
return f
`;

function text(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

/** What an operator needs of a dead-lettered result; a message that is not JSON still lists (with nulls). */
export function deadResultView(id: string, fields: readonly string[]): DeadResult {
  let m: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(streamField(fields, RESULT_MESSAGE_FIELD) ?? '');
    if (parsed && typeof parsed === 'object') m = parsed as Record<string, unknown>;
  } catch {
    // Kept as it came: the ids below are null.
  }
  const deliveries = streamField(fields, DEAD_DELIVERIES_FIELD);
  return {
    id,
    resultId: streamField(fields, RESULT_ID_FIELD) ?? null,
    kind: text(m.kind),
    operationId: text(m.operationId),
    step: text(m.step),
    vmId: text(m.vmId),
    volumeId: text(m.volumeId),
    hostId: text(m.hostId),
    reason: streamField(fields, DEAD_REASON_FIELD) ?? '',
    deliveries: deliveries === undefined ? null : Number(deliveries),
    deadAt: new Date(Number(id.split('-')[0])).toISOString(),
  };
}

/**
 * The results stream seen from the operator's side: counts for /metrics and /health, and the
 * dead-letter stream listed, retried (back on the results stream, where the consumer records it
 * once: the decider accepts one result per step) or discarded.
 */
export class ResultStreamAdmin {
  constructor(
    private readonly client: () => Promise<Redis>,
    private readonly prefix: string,
  ) {}

  private get key(): string {
    return resultsStreamKey(this.prefix);
  }

  private get dead(): string {
    return deadResultsKey(this.prefix);
  }

  /**
   * An entry is deleted when it is acknowledged (one MULTI), so the stream holds exactly the pending
   * entries plus the ones not read yet. No group yet (no control plane ever ran): all are waiting.
   */
  async counts(): Promise<ResultCounts> {
    const redis = await this.client();
    const [length, deadLettered, pending] = await Promise.all([
      redis.xlen(this.key),
      redis.xlen(this.dead),
      redis.xpending(this.key, RESULTS_GROUP).then(
        (summary) => Number((summary as unknown[])[0] ?? 0),
        (err: unknown) => {
          if (err instanceof Error && err.message.includes('NOGROUP')) return 0;
          throw err;
        },
      ),
    ]);
    return { pending, waiting: Math.max(0, length - pending), deadLettered };
  }

  /** Oldest first: the order they were given up in. */
  async list(limit: number): Promise<DeadResult[]> {
    const entries = (await (await this.client()).xrange(this.dead, '-', '+', 'COUNT', limit)) as Entry[];
    return entries.map(([id, fields]) => deadResultView(id, fields));
  }

  async get(id: string): Promise<DeadResult | undefined> {
    const [entry] = (await (await this.client()).xrange(this.dead, id, id)) as Entry[];
    return entry ? deadResultView(entry[0], entry[1]) : undefined;
  }

  /** Back on the results stream; undefined when it is not dead-lettered (any more). */
  async retry(id: string): Promise<DeadResult | undefined> {
    const redis = await this.client();
    const fields: unknown = await redis.eval(
      RETRY_SCRIPT,
      2,
      this.dead,
      this.key,
      id,
      DEAD_ENTRY_FIELD,
      DEAD_REASON_FIELD,
      DEAD_DELIVERIES_FIELD,
    );
    return Array.isArray(fields) ? deadResultView(id, fields as string[]) : undefined;
  }

  /** Deleted for good; undefined when it is not dead-lettered (any more: only one of two discards answers). */
  async discard(id: string): Promise<DeadResult | undefined> {
    const redis = await this.client();
    const found = await this.get(id);
    if (!found || (await redis.xdel(this.dead, id)) !== 1) return undefined;
    return found;
  }
}
