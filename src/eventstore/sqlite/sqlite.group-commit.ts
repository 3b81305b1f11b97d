import type { AppendResult, ExpectedState, NewEvent } from '../event-store.port.js';

export type AppendArgs = [streamId: string, batch: NewEvent[], expected: ExpectedState];

/** Several streams' appends that stand or fall together (appendMany): one item of a group. */
export type AppendSetArgs = AppendArgs[];

export interface PendingAppend<A = AppendArgs, R = AppendResult> {
  args: A;
  resolve: (r: R) => void;
  reject: (err: unknown) => void;
}

/** One append's outcome inside a group: its result or its own error, never the group's. */
export type Settled<R = AppendResult> = { ok: true; value: R } | { ok: false; error: unknown };

export function settle<R>(fn: () => R): Settled<R> {
  try {
    return { ok: true, value: fn() };
  } catch (error) {
    return { ok: false, error };
  }
}

/** A group bigger than this is split: one huge transaction would hold the write lock too long. */
const MAX_GROUP = 256;

/**
 * Collects the appends made within one tick and hands them to `commitGroup`
 * together (one transaction, one fsync). An item is one append or, on the writer
 * thread, a set of streams' appends (appendMany) that stands or falls as one. Every item gets its own result or
 * error in the order it arrived; a failure of the whole transaction (lock
 * wait exhausted, disk full) fails every append of the group, none of which
 * is then stored.
 */
export class GroupCommit<A = AppendArgs, R = AppendResult> {
  private pending: Array<PendingAppend<A, R>> = [];
  private scheduled = false;

  constructor(
    private readonly commitGroup: (items: Array<PendingAppend<A, R>>) => Promise<Array<Settled<R>>>,
    private readonly mapError: (err: unknown) => unknown,
    private readonly onCommitted: () => void,
  ) {}

  append(args: A): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ args, resolve, reject });
      if (this.scheduled) return;
      this.scheduled = true;
      // setImmediate, not a microtask: requests parsed in the same I/O phase join the group.
      setImmediate(() => void this.flush());
    });
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    const items = this.pending;
    this.pending = [];
    for (let i = 0; i < items.length; i += MAX_GROUP) await this.commit(items.slice(i, i + MAX_GROUP));
  }

  private async commit(items: Array<PendingAppend<A, R>>): Promise<void> {
    let outcomes: Array<Settled<R>>;
    try {
      outcomes = await this.commitGroup(items);
    } catch (err) {
      for (const it of items) it.reject(err);
      return;
    }
    if (outcomes.some((o) => o.ok)) this.onCommitted();
    outcomes.forEach((o, i) => {
      if (o.ok) items[i]!.resolve(o.value);
      else items[i]!.reject(this.mapError(o.error));
    });
  }
}
