import type { ApiClient, ApiResponse } from './api-client.js';

export interface TrackedOp {
  id: string;
  vmId: string;
  what: string;
  status?: string;
  error?: unknown;
}

const TERMINAL = new Set(['succeeded', 'failed', 'cancelled']);

/**
 * Every mutation a scenario sends, as its user sees it: the answers by status
 * code, and each accepted (202) operation followed until it ends.
 */
export class Operations {
  readonly ops = new Map<string, TrackedOp>();
  readonly answers = new Map<number, number>();
  /** Answers a scenario did not allow (e.g. a 500), with their bodies. */
  readonly unexpected: string[] = [];
  /** Messages of the 503 answers (an outage must say what is down). */
  readonly unavailable: string[] = [];

  constructor(
    readonly client: ApiClient,
    /** Status codes that are a legitimate refusal under this fault (409 busy VM, 503 outage…). */
    private readonly allowed: ReadonlySet<number> = new Set([409]),
  ) {}

  /** `alsoAllowed`: refusals legitimate for this one call (a 404 for a retried delete whose first answer was lost). */
  async send(
    method: 'POST' | 'DELETE',
    path: string,
    body?: object,
    alsoAllowed: readonly number[] = [],
  ): Promise<ApiResponse> {
    const r = await this.client.call(method, path, body);
    this.answers.set(r.status, (this.answers.get(r.status) ?? 0) + 1);
    if (r.status === 202) {
      const id = r.body.operationId as string;
      this.ops.set(id, { id, vmId: r.body.vmId as string, what: `${method} ${path}` });
    } else if (r.status === 503) {
      this.unavailable.push(String(r.body.message));
    }
    if (r.status !== 202 && !this.allowed.has(r.status) && !alsoAllowed.includes(r.status)) {
      this.unexpected.push(`${method} ${path} → ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
    }
    return r;
  }

  get started(): number {
    return this.ops.size;
  }

  get ended(): number {
    return [...this.ops.values()].filter((o) => o.status && TERMINAL.has(o.status)).length;
  }

  /** Waits for one operation to end (long-poll); undefined when it did not within timeoutMs. */
  async waitOne(id: string, timeoutMs: number): Promise<TrackedOp | undefined> {
    const op = this.ops.get(id);
    if (!op) return undefined;
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const r = await this.client.call('GET', `/v1/operations/${id}?waitMs=5000`, undefined, 15000);
      if (r.status === 200) {
        op.status = r.body.status as string;
        op.error = r.body.error;
        if (TERMINAL.has(op.status)) return op;
      } else {
        await new Promise((res) => setTimeout(res, 300));
      }
    }
    return undefined;
  }

  /** Waits for every accepted operation to end; returns how many did. */
  async waitAll(timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    const open = [...this.ops.values()].filter((o) => !o.status || !TERMINAL.has(o.status));
    // A few at a time: long-polls are cheap, but the machine is small.
    for (let i = 0; i < open.length; i += 8) {
      await Promise.all(open.slice(i, i + 8).map((o) => this.waitOne(o.id, Math.max(1000, deadline - Date.now()))));
    }
    return this.ended;
  }

  /** Failed operations must say why. */
  failuresWithoutReason(): string[] {
    return [...this.ops.values()]
      .filter((o) => o.status === 'failed' && !(typeof o.error === 'string' ? o.error : JSON.stringify(o.error ?? '')))
      .map((o) => `${o.what} (${o.id}) failed without a reason`);
  }

  answerSummary(): string {
    return [...this.answers.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([s, n]) => `${s}×${n}`)
      .join(' ');
  }
}
