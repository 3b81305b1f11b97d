import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { HypervisorDriver } from '../drivers/hypervisor-driver.port.js';
import {
  finishJobId,
  migrateJobId,
  priorSteps,
  RESULTS_QUEUE,
  tracePhase,
  type HostJobData,
  type Prior,
  type StepResult,
} from '../application/jobs.js';
import type { QueueHub } from './queue-hub.js';

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A live migration of `vmId` from `hostId` has begun on its target. */
interface Hint {
  hostId: string;
  vmId: string;
}

/** Anything else on the channel is ignored (the driver checks the VM id's shape again). */
function parseHint(raw: string): Hint | undefined {
  try {
    const v = JSON.parse(raw) as Partial<Hint> | null;
    return typeof v?.hostId === 'string' && typeof v.vmId === 'string' ? { hostId: v.hostId, vmId: v.vmId } : undefined;
  } catch {
    return undefined;
  }
}

const MIGRATED: StepResult = { step: 'migrate', output: {} };

/**
 * What a finishIncoming queued by the source carries: the steps the migrate job carried (the
 * target's prepareIncoming, when the target queued the migrate), then the migrate. A single step
 * stays a single object, as every consumer before lists reads it.
 */
function withMigrate(prior: Prior | undefined): Prior {
  const before = priorSteps(prior);
  return before.length ? [...before, MIGRATED] : MIGRATED;
}

/**
 * A migration's next job queued by the worker that ran the step before it, instead of waiting for
 * that step's result to go through the log and the saga (one hop less each). The job carries the
 * steps that succeeded before it as its `prior`, which its results bring back first. Best effort:
 * the saga queues the same job id once the step is recorded, so a failure here only costs that hop.
 */
export class MigrationShortcuts {
  private subscriber: Redis | undefined;

  constructor(
    private readonly hub: QueueHub,
    private readonly log: Logger,
  ) {}

  private get hintChannel(): string {
    return `${this.hub.settings.prefix}:migration-hints`;
  }

  private async client(): Promise<Redis> {
    return (await this.hub.queue(RESULTS_QUEUE).backend.client) as unknown as Redis;
  }

  /**
   * The target took a live migration's prepareIncoming: tell the source's worker, whose driver gets
   * ready for the migrate while the target QEMU starts (HypervisorDriver.prepareOutgoing). A hint
   * only (pub/sub, nothing waits for it): lost or late, the migrate does what it always did.
   */
  announceSource(data: Extract<HostJobData, { step: 'prepareIncoming' }>): void {
    const hostId = data.args.sourceHostId;
    if (!hostId || !data.args.live) return;
    const hint = JSON.stringify({ hostId, vmId: data.vmId } satisfies Hint);
    this.client()
      .then((c) => c.publish(this.hintChannel, hint))
      .catch((err: unknown) => this.log.debug({ err: message(err), vm: data.vmId }, 'migration hint not sent'));
  }

  /** This host's hints go to its driver, when the driver takes them. Resolves once subscribed. */
  async serveHints(hostId: string, driver: HypervisorDriver): Promise<void> {
    if (!driver.prepareOutgoing) return;
    const ready = (vmId: string) =>
      driver
        .prepareOutgoing?.(vmId)
        .catch((err: unknown) => this.log.debug({ err: message(err), vm: vmId }, 'source not made ready'));
    // Its own connection (a subscribed one can do nothing else), queuing the SUBSCRIBE until connected.
    const sub = (await this.client()).duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null });
    this.subscriber = sub;
    sub.on('message', (_channel: string, raw: string) => {
      const hint = parseHint(raw);
      if (hint?.hostId === hostId) void ready(hint.vmId);
    });
    await sub.subscribe(this.hintChannel);
  }

  async close(): Promise<void> {
    const sub = this.subscriber;
    this.subscriber = undefined;
    if (sub) await sub.quit().catch(() => sub.disconnect());
  }

  /**
   * The target listens: queue the source's migrate. Only for a job that names the source (queued
   * by a saga that knows this shortcut); a cancel reaching the migrate job before it runs makes
   * it report `failed` without calling the driver, as when the saga had queued it. Returns the
   * step's result to report: marked `migrateQueued` when the job is queued.
   */
  async queueMigrate(
    data: Extract<HostJobData, { step: 'prepareIncoming' }>,
    targetHostId: string,
    prepared: StepResult,
  ): Promise<StepResult> {
    const sourceHostId = data.args.sourceHostId;
    if (!sourceHostId || prepared.step !== 'prepareIncoming') return prepared;
    // Said in the result only once the job is queued: without it the log closes a cancel at this step.
    const queued: StepResult = { step: 'prepareIncoming', output: { ...prepared.output, migrateQueued: true } };
    try {
      await this.hub.enqueueHostJob(sourceHostId, migrateJobId(data.operationId), {
        vmId: data.vmId,
        operationId: data.operationId,
        spec: data.spec,
        principal: data.principal,
        causationId: data.causationId,
        step: 'migrate',
        args: { live: data.args.live, endpoint: prepared.output.endpoint, targetHostId },
        prior: queued,
      });
      tracePhase(data.vmId, 'enqueued migrate');
      return queued;
    } catch (err) {
      this.log.warn({ err: message(err), vm: data.vmId }, 'migrate not queued by the target; the saga will');
      return prepared;
    }
  }

  /**
   * QEMU handed the guest off: queue the target's finishIncoming. Failing the migrate instead
   * would abort the target, where the guest now runs.
   */
  async queueFinish(data: Extract<HostJobData, { step: 'migrate' }>): Promise<void> {
    try {
      await this.hub.enqueueHostJob(data.args.targetHostId, finishJobId(data.operationId), {
        vmId: data.vmId,
        operationId: data.operationId,
        spec: data.spec,
        principal: data.principal,
        causationId: data.causationId,
        step: 'finishIncoming',
        args: { live: data.args.live },
        prior: withMigrate(data.prior),
      });
      tracePhase(data.vmId, 'enqueued finishIncoming');
    } catch (err) {
      this.log.warn({ err: message(err), vm: data.vmId }, 'finishIncoming not queued by the source; the saga will');
    }
  }
}
