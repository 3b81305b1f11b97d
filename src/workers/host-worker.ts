import { Worker, type ConnectionOptions, type Job } from 'bullmq';
import type { Logger } from 'pino';
import {
  DriverError,
  type HostBinding,
  type HypervisorDriver,
  type Progress,
} from '../drivers/hypervisor-driver.port.js';
import {
  hostQueueName,
  isVolumeJob,
  RESULTS_QUEUE,
  tracePhase,
  type HostJobData,
  type QueueJobData,
  type StepResult,
  type VolumeJobData,
} from '../application/jobs.js';
import { ConsoleResponder } from './console-responder.js';
import type { ConsoleChannels } from './console-wire.js';
import type { Redis } from 'ioredis';
import { MalformedJobError } from './job-check.js';
import { HostQueryResponder } from './host-query-responder.js';
import type { QueueHub } from './queue-hub.js';
import { runDefineThenStart, runStep, runVolumeStep } from './step-runner.js';
import type { CatalogImages } from './catalog-images.port.js';
import { OperationAborts } from './operation-aborts.js';
import { StartedReports } from './started-reports.js';
import { RunningCalls } from './running-calls.js';
import { MigrationShortcuts } from './migration-shortcuts.js';

export interface HostWorkerSettings {
  connection: ConnectionOptions;
  prefix: string;
  concurrency: number;
  jobTimeoutMs: number;
  /** Lock of a running job; a dead worker's job is found stalled within lockMs + lockMs/2. */
  lockMs?: number;
  /** When set, the worker also answers the control plane's questions about its host on this queue. */
  queryQueue?: (hostId: string) => string;
  /** When set, the worker also serves its VMs' consoles: open/log requests on this queue, bytes on these channels. */
  console?: { queue: (hostId: string) => string; channels: ConsoleChannels };
  /** Told of every failed attempt (`final`: no retry follows), for the job retry and failure counters. */
  onJobFailure?: (hostId: string, step: string, final: boolean) => void;
  /** A step still running after this long reports `started` on its own; sooner, its outcome carries it (0: always on its own, first). */
  startedAfterMs?: number;
}

/** Errors no retry can fix: report them at once instead of burning attempts. */
function isPermanent(err: unknown): boolean {
  if (err instanceof MalformedJobError) return true;
  return (
    err instanceof DriverError &&
    (err.code === 'unsupported' || err.code === 'not_found' || err.code === 'conflict' || err.code === 'invalid')
  );
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

class StepTimeoutError extends Error {
  override readonly name = 'StepTimeoutError';
}

/** The operation was cancelled (DELETE /v1/operations/{id}, or superseded): final, never retried. */
class StepCancelledError extends Error {
  override readonly name = 'StepCancelledError';
}

/**
 * A migration's steps before its hand-off: after an abort only the driver knows how they ended
 * (QEMU may complete a migration the cancel reached too late), so the worker waits for the
 * driver's answer and reports that, never `cancelled` ahead of it.
 */
const DRIVER_DECIDES: ReadonlySet<string> = new Set(['prepareIncoming', 'migrate']);
/** After the hand-off the guest lives on the target only: a cancel must not stop these. */
const PAST_CANCEL: ReadonlySet<string> = new Set(['finishIncoming']);

/**
 * The host agent: consumes one host's queue, runs each step through the
 * driver under a deadline, and reports results on the results queue. It
 * never touches the event store, so it can run on a hypervisor host that
 * only reaches Redis.
 */
export class HostWorker {
  private worker: Worker<QueueJobData> | undefined;
  private readonly inFlight = new Set<Promise<unknown>>();
  private responder: HostQueryResponder | undefined;
  private consoles: ConsoleResponder | undefined;
  private readonly aborts: OperationAborts;
  private readonly running = new RunningCalls();
  private readonly starts: StartedReports;
  private readonly shortcuts: MigrationShortcuts;
  /** Settles once the cancel channel is subscribed (or could not be). */
  private listening: Promise<void> = Promise.resolve();

  constructor(
    readonly host: HostBinding,
    readonly driver: HypervisorDriver,
    private readonly hub: QueueHub,
    private readonly settings: HostWorkerSettings,
    private readonly log: Logger,
    private readonly images?: CatalogImages,
  ) {
    this.aborts = new OperationAborts(hub);
    this.starts = new StartedReports(hub, log, settings.startedAfterMs);
    this.shortcuts = new MigrationShortcuts(hub, log);
  }

  /**
   * Whether the operation was cancelled before this worker began listening for its cancel: the
   * mark in Redis, read once the channel is subscribed so that no cancel falls between the two.
   */
  private async cancelledBefore(operationId: string): Promise<boolean> {
    await this.listening;
    return this.aborts.isAborted(operationId);
  }

  start(): void {
    this.worker = new Worker<QueueJobData>(hostQueueName(this.host.id), (job) => this.dispatch(job), {
      connection: this.settings.connection,
      prefix: this.settings.prefix,
      concurrency: this.settings.concurrency,
      // A worker killed mid-call leaves a stalled job; let it be redelivered several times (drivers are idempotent).
      maxStalledCount: 10,
      lockDuration: this.settings.lockMs ?? 30000,
      stalledInterval: Math.round((this.settings.lockMs ?? 30000) / 2),
    });
    this.worker.on('error', (err) => this.log.error({ err, host: this.host.id }, 'host worker error'));
    this.listening = this.aborts
      // A cancel of an operation this worker runs aborts its driver calls (other workers ignore it).
      .listen((id) => this.running.cancel(id, () => new StepCancelledError(`operation ${id} was cancelled`)))
      .catch((err: unknown) => this.log.error({ err, host: this.host.id }, 'cancel channel not subscribed'));
    this.shortcuts
      .serveHints(this.host.id, this.driver)
      .catch((err: unknown) => this.log.warn({ err, host: this.host.id }, 'migration hints not subscribed'));
    if (this.settings.queryQueue) {
      const settings = { connection: this.settings.connection, prefix: this.settings.prefix };
      this.responder = new HostQueryResponder(
        this.settings.queryQueue(this.host.id),
        this.host.id,
        this.driver,
        settings,
        this.log,
      );
      this.responder.start();
    }
    if (this.settings.console) {
      const consoles = new ConsoleResponder(
        this.host.id,
        this.driver,
        {
          connection: this.settings.connection,
          prefix: this.settings.prefix,
          queueName: this.settings.console.queue(this.host.id),
          channels: this.settings.console.channels,
          redis: async () => (await this.hub.queue(RESULTS_QUEUE).backend.client) as unknown as Redis,
        },
        this.log,
      );
      this.consoles = consoles;
      consoles.start().catch((err: unknown) => this.log.error({ err, host: this.host.id }, 'console responder'));
    }
    this.log.info({ host: this.host.id, driver: this.host.driver }, 'host worker started');
  }

  /**
   * Stop taking jobs; let the running ones finish within graceMs. `beforeClose` runs once no job
   * runs any more and before the driver is closed (a fence on shutdown stops the VMs there).
   */
  async stop(graceMs: number, beforeClose?: () => Promise<void>): Promise<void> {
    if (!this.worker) return;
    await this.responder?.stop();
    await this.consoles?.stop();
    await this.aborts.close();
    await this.shortcuts.close();
    const closing = this.worker.close();
    const timer = new Promise<void>((r) => setTimeout(r, graceMs).unref());
    await Promise.race([closing, timer]);
    if (this.inFlight.size)
      this.log.warn({ host: this.host.id, jobs: this.inFlight.size }, 'shutdown grace elapsed with jobs running');
    await beforeClose?.().catch((err: unknown) => this.log.error({ err, host: this.host.id }, 'before close failed'));
    await this.driver.close();
    this.worker = undefined;
  }

  private timeoutFor(job: HostJobData): number {
    const base = this.settings.jobTimeoutMs;
    if (job.step === 'stop' && job.args.timeoutMs) return Math.max(base, job.args.timeoutMs + 30000);
    // Two driver calls, each with the deadline it had as a job of its own.
    if (job.step === 'define' && job.args.thenStart) return 2 * base;
    return base;
  }

  private dispatch(job: Job<QueueJobData>): Promise<void> {
    const data = job.data;
    return isVolumeJob(data) ? this.processVolume(job, data) : this.process(job as Job<HostJobData>);
  }

  /** A volume's own step: one driver call under the job deadline, its outcome to the volume's stream. */
  private async processVolume(job: Job<QueueJobData>, data: VolumeJobData): Promise<void> {
    const jobId = job.id ?? data.causationId;
    const base = {
      kind: 'volume' as const,
      volumeId: data.volumeId,
      operationId: data.operationId,
      step: data.step,
      jobId,
      principal: data.principal,
    };
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new StepTimeoutError(`${data.step} timed out`)),
      this.settings.jobTimeoutMs,
    );
    const call = runVolumeStep(this.driver, data, { signal: controller.signal });
    this.inFlight.add(call);
    try {
      await call;
      await this.hub.postResult(`${jobId}.ok`, { ...base, outcome: 'succeeded' });
    } catch (err) {
      const final = isPermanent(err) || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      this.log.warn({ err: message(err), volume: data.volumeId, step: data.step, final }, 'volume step failed');
      this.settings.onJobFailure?.(this.host.id, data.step, final);
      if (!final) throw err;
      await this.hub.postResult(`${jobId}.failed`, {
        ...base,
        outcome: 'failed',
        reason: `${data.step} failed on host ${this.host.id}: ${message(err)}`,
      });
    } finally {
      clearTimeout(timer);
      this.inFlight.delete(call);
      call.catch(() => undefined);
    }
  }

  private async process(job: Job<HostJobData>): Promise<void> {
    const data = job.data;
    const jobId = job.id ?? data.causationId;
    tracePhase(data.vmId, `worker picked ${data.step}`);
    const base = { vmId: data.vmId, operationId: data.operationId, jobId, principal: data.principal };
    const compensation = data.step === 'abortIncoming' || data.compensation === true;
    const cancellable = !compensation && !PAST_CANCEL.has(data.step);
    const driverDecides = DRIVER_DECIDES.has(data.step);
    const controller = new AbortController();
    let cancel: (err: Error) => void = () => undefined;
    const cancelled = new Promise<never>((_, reject) => {
      cancel = (err) => {
        controller.abort(err);
        if (!driverDecides) reject(err);
      };
    });
    cancelled.catch(() => undefined);
    // Listening before the one check below: a cancel marked after the check is announced after it, and
    // reaches `cancel` (so the check need not be repeated once the driver call is under way).
    const unlisten = cancellable ? this.running.listen(data.operationId, cancel) : () => undefined;
    // A cancelled operation's queued job never reaches the driver; its compensation always does.
    if (cancellable && (await this.cancelledBefore(data.operationId))) {
      unlisten();
      this.log.info({ vm: data.vmId, step: data.step, operation: data.operationId }, 'step skipped: cancelled');
      // Only a cancel was asked (a migration): this answer is what closes the operation.
      if (driverDecides)
        await this.hub.postResult(`${jobId}.failed`, {
          ...base,
          step: data.step,
          kind: 'failed',
          reason: `${data.step} not started on host ${this.host.id}: the operation was cancelled`,
          attempts: job.attemptsMade + 1,
          // A migrate the target queued: its prepareIncoming lands first, and the cancel closes the operation.
          ...(data.prior ? { prior: data.prior } : {}),
        });
      return;
    }
    tracePhase(data.vmId, 'worker checked cancel');
    // The source gets ready for the migrate while this target's QEMU starts.
    if (data.step === 'prepareIncoming' && !compensation) this.shortcuts.announceSource(data);
    const notice = compensation ? undefined : this.starts.notice(data, base);
    try {
      await notice?.begin();
    } catch (err) {
      unlisten();
      throw err;
    }

    const timeoutMs = this.timeoutFor(data);
    let lastProgress = 0;
    let progressSeq = 0;
    const onProgress = (p: Progress) => {
      // Not within the started notice's delay: a step that ends sooner (a live migration of a
      // small guest, in tens of ms) reports its outcome alone; a report now would post `started`
      // and the progress as two results of their own, recorded while the guest moves.
      if (notice?.quiet()) return;
      // At most one progress event per second reaches the log.
      const now = Date.now();
      if (now - lastProgress < 1000) return;
      lastProgress = now;
      const seq = ++progressSeq;
      // `started` goes first: progress is reported while the step runs.
      (notice?.now() ?? Promise.resolve(true))
        .then(() =>
          this.hub.postResult(`${jobId}.p${job.attemptsMade}.${seq}`, {
            ...base,
            step: data.step,
            kind: 'progress',
            progress: p,
          }),
        )
        .catch((err: unknown) => this.log.warn({ err }, 'progress not posted'));
    };
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(new StepTimeoutError(`${data.step} did not finish within ${timeoutMs} ms`));
      }, timeoutMs);
    });
    // A create that should run: define, then start in the same job (see runDefineThenStart).
    let defined: StepResult | undefined;
    // A migrate's target is finished from QEMU's hand-off on, not from the source QEMU's exit.
    let finishQueued: Promise<void> | undefined;
    const queueFinish =
      data.step === 'migrate' && !compensation ? () => (finishQueued ??= this.shortcuts.queueFinish(data)) : undefined;
    const ctx = {
      signal: controller.signal,
      onProgress,
      ...(queueFinish ? { onHandedOff: () => void queueFinish() } : {}),
    };
    const call =
      data.step === 'define' && data.args.thenStart
        ? runDefineThenStart(this.driver, data, ctx, this.images, (r) => {
            defined = r;
            tracePhase(data.vmId, 'driver done define');
          })
        : runStep(this.driver, data, ctx, this.images);
    this.inFlight.add(call);
    // The race below observes each of these; until it starts, a fast failure would otherwise surface
    // as an unhandled rejection.
    for (const p of [call, deadline]) p.catch(() => undefined);
    try {
      // The race bounds a driver that ignores the abort signal: the job ends and the VM's lock is released
      // (for DRIVER_DECIDES steps only the deadline does: their answer after an abort is the outcome).
      const outcome = await Promise.race([call, deadline, cancelled]);
      tracePhase(data.vmId, `driver done ${outcome.step}`);
      if (queueFinish) await queueFinish();
      // The target listens: the source's migrate need not wait for this result to reach the saga.
      const result =
        data.step === 'prepareIncoming' && !compensation
          ? await this.shortcuts.queueMigrate(data, this.host.id, outcome)
          : outcome;
      // One message for both steps of a define-then-start job: the consumer records the define first.
      const prior = defined ?? data.prior;
      if (!compensation) {
        const started = await this.starts.carried(notice, data);
        await this.hub.postResult(defined ? `${jobId}.start.ok` : `${jobId}.ok`, {
          ...base,
          kind: 'succeeded',
          ...result,
          ...(prior ? { prior } : {}),
          ...started,
        });
      }
    } catch (err) {
      const attempts = job.opts.attempts ?? 1;
      const final =
        isPermanent(err) ||
        err instanceof StepTimeoutError ||
        err instanceof StepCancelledError ||
        controller.signal.reason instanceof StepCancelledError ||
        job.attemptsMade + 1 >= attempts;
      // Past the define of a define-then-start job, the step that failed is the start.
      const step = defined ? 'start' : data.step;
      this.log.warn({ err: message(err), vm: data.vmId, step, attempt: job.attemptsMade + 1, final }, 'step failed');
      this.settings.onJobFailure?.(this.host.id, step, final);
      if (!final) {
        // Retried after a backoff (the whole job: the driver's define is idempotent); the operation shows running meanwhile.
        await notice?.now();
        throw err;
      }
      if (!compensation) {
        const started = await this.starts.carried(notice, data);
        const prior = defined ?? data.prior;
        await this.hub.postResult(defined ? `${jobId}.start.failed` : `${jobId}.failed`, {
          ...base,
          step,
          kind: 'failed',
          reason: `${step} failed on host ${this.host.id}: ${message(err)}`,
          attempts: job.attemptsMade + 1,
          ...started,
          ...(prior ? { prior } : {}),
        });
      }
    } finally {
      notice?.dispose();
      unlisten();
      clearTimeout(timer);
      this.inFlight.delete(call);
      call.catch(() => undefined);
    }
  }
}
