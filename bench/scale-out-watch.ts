/**
 * The scale-out bench's view of the creates: a subscription to the log (in the
 * bench process, so watching costs the measured processes nothing) that notes
 * when each VM's create settled (VmStarted, or VmOperationFailed).
 */
import type { EventStore, Subscription } from '../src/eventstore/event-store.port.js';

export class CreatesWatch {
  private readonly settled = new Map<string, number>();
  private readonly failed = new Set<string>();
  private readonly waiters = new Set<() => void>();
  private sub: Subscription | undefined;

  static async start(store: EventStore): Promise<CreatesWatch> {
    const w = new CreatesWatch();
    const head = await store.headPosition();
    w.sub = store.subscribeToAll({
      ...(head !== undefined ? { after: head } : {}),
      onEvent: (e) => {
        if (e.type === 'VmStarted' || e.type === 'VmOperationFailed') {
          const vmId = e.streamId.slice(3);
          if (e.type === 'VmOperationFailed') w.failed.add(vmId);
          if (!w.settled.has(vmId)) w.settled.set(vmId, performance.now());
          for (const wake of w.waiters) wake();
        }
        return Promise.resolve();
      },
    });
    return w;
  }

  settledAt(vmId: string): number | undefined {
    return this.settled.get(vmId);
  }

  failedAmong(vmIds: Iterable<string>): number {
    let n = 0;
    for (const id of vmIds) if (this.failed.has(id)) n++;
    return n;
  }

  /** Resolves once every one of `vmIds` settled; rejects after `timeoutMs`. */
  allSettled(vmIds: string[], timeoutMs: number): Promise<void> {
    const done = () => vmIds.every((id) => this.settled.has(id));
    if (done()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!done()) return;
        finish();
        resolve();
      };
      const timer = setTimeout(() => {
        finish();
        const missing = vmIds.filter((id) => !this.settled.has(id)).length;
        reject(new Error(`${missing} of ${vmIds.length} creates did not settle within ${timeoutMs} ms`));
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
    });
  }

  async stop(): Promise<void> {
    await this.sub?.stop();
  }
}
