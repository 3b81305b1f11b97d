import type { Logger } from 'pino';
import { vmStream } from '../domain/streams.js';
import { vmDecider } from '../domain/vm/vm.decider.js';
import { handleCommand } from './handle-command.js';
import type { AggregateLoader } from './load-aggregate.js';
import type { RestartTimerPort } from './saga-vm-actions.js';

/** A restart still scheduled, as the read models hold it (rebuilt from the log). */
export interface ScheduledRestartRef {
  vmId: string;
  operationId: string;
  notBefore: string;
}

/**
 * The timers of scheduled restarts. The time is in the event (VmRestartScheduled.notBefore), so
 * the timers are only a cache of the log: at start every restart still scheduled is found again
 * (`listScheduled`, from the read models) and armed, one already due fires at once. Each fires
 * FireRestart, which the decider accepts once; several API processes may all fire it.
 */
export class RestartTimers implements RestartTimerPort {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private stopped = false;

  constructor(
    private readonly aggregates: AggregateLoader,
    private readonly listScheduled: () => Promise<ScheduledRestartRef[]>,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Also after a stop: a process that owns the control plane again re-arms from the log. */
  async start(): Promise<void> {
    this.stopped = false;
    const found = await this.listScheduled();
    for (const r of found) this.schedule(r.vmId, r.operationId, r.notBefore);
    if (found.length) this.log.info({ restarts: found.length }, 'scheduled restarts re-armed from the log');
  }

  schedule(vmId: string, operationId: string, notBefore: string, causationId?: string): void {
    if (this.stopped || this.timers.has(operationId)) return;
    const delay = Math.max(0, Date.parse(notBefore) - this.now());
    const t = setTimeout(() => {
      this.timers.delete(operationId);
      void this.fire(vmId, operationId, causationId ?? `timer:${operationId}`);
    }, delay);
    t.unref();
    this.timers.set(operationId, t);
  }

  /** How many restarts wait for their time (for tests and /health). */
  get pending(): number {
    return this.timers.size;
  }

  private async fire(vmId: string, operationId: string, causationId: string, attempt = 0): Promise<void> {
    if (this.stopped) return;
    try {
      await handleCommand(
        this.aggregates,
        vmDecider,
        vmStream(vmId),
        { type: 'FireRestart', operationId, by: 'system:healing' },
        { principal: 'system:healing', correlationId: operationId, causationId },
      );
    } catch (err) {
      // The store may be briefly away: try again, the decider takes the restart once.
      this.log.warn({ err, vm: vmId, operation: operationId, attempt }, 'scheduled restart not started; retrying');
      const t = setTimeout(
        () => {
          this.timers.delete(operationId);
          void this.fire(vmId, operationId, causationId, attempt + 1);
        },
        Math.min(10000, 500 * 2 ** Math.min(attempt, 5)),
      );
      t.unref();
      this.timers.set(operationId, t);
    }
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}
