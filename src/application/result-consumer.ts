import { Worker, type ConnectionOptions } from 'bullmq';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { VmCommand } from '../domain/vm/vm.commands.js';
import { vmDecider } from '../domain/vm/vm.decider.js';
import {
  priorSteps,
  RESULTS_GROUP,
  RESULTS_QUEUE,
  resultsStreamKey,
  type HostFencedResult,
  type ResultMessage,
  type VolumeResultMessage,
} from './jobs.js';
import { ResultStreamReader, type ResultStreamOptions } from './result-stream-reader.js';
import { hostDecider } from '../domain/host/host.decider.js';
import { derivedOperationId } from '../sagas/healing.saga.js';
import { volumeDecider } from '../domain/volume/volume.decider.js';
import type { VolumeCommand } from '../domain/volume/volume.commands.js';
import { handleCommand, handleCommands, PreconditionFailedError, type CommandMeta } from './handle-command.js';
import type { AggregateLoader } from './load-aggregate.js';
import { hostStream, vmStream, volumeStream } from '../domain/streams.js';
import { tracePhase } from './phase-trace.js';

export function volumeResultToCommand(msg: VolumeResultMessage): VolumeCommand {
  return msg.outcome === 'succeeded'
    ? { type: 'RecordVolumeStepSucceeded', operationId: msg.operationId, step: msg.step }
    : { type: 'RecordVolumeStepFailed', operationId: msg.operationId, step: msg.step, reason: msg.reason ?? 'failed' };
}

export function resultToCommand(
  msg: Exclude<ResultMessage, HostFencedResult | VolumeResultMessage>,
  now: Date,
): VmCommand {
  switch (msg.kind) {
    case 'started':
      return { type: 'MarkOperationRunning', operationId: msg.operationId, step: msg.step };
    case 'succeeded':
      return {
        type: 'RecordStepSucceeded',
        operationId: msg.operationId,
        step: msg.step,
        output: msg.output,
        at: now.toISOString(),
      };
    case 'failed':
      return { type: 'RecordStepFailed', operationId: msg.operationId, step: msg.step, reason: msg.reason };
    case 'progress':
      return { type: 'RecordMigrationProgress', operationId: msg.operationId, progress: msg.progress };
    case 'observed':
      return {
        type: 'ReportObservedState',
        observed: msg.observed,
        reason: msg.reason,
        jobActive: msg.jobActive,
        evidence: {
          kind: 'observation',
          hostId: msg.hostId,
          observed: msg.observed,
          detail: msg.reason,
          jobActive: msg.jobActive,
          ...(msg.revision !== undefined ? { atRevision: Number(msg.revision) } : {}),
        },
      };
  }
}

/**
 * Turns worker results into result commands against the VM decider. A result
 * the decider has already accepted (the redelivery case), or one for an
 * operation already closed, decides no events: it is done, nothing to catch.
 */
export class ResultConsumer {
  /** The results queue of the previous version, still drained (see RESULTS_QUEUE). */
  private worker: Worker<ResultMessage> | undefined;
  private stream: ResultStreamReader | undefined;
  processed = 0;

  constructor(
    private readonly aggregates: AggregateLoader,
    private readonly connection: ConnectionOptions,
    private readonly prefix: string,
    private readonly log: Logger,
    private readonly onCommand?: (type: string, ms: number, ok: boolean) => void,
    private readonly streamOptions: Partial<ResultStreamOptions> = {},
  ) {}

  start(): void {
    this.worker = new Worker<ResultMessage>(RESULTS_QUEUE, (job) => this.process(job.data, job.id), {
      connection: this.connection,
      prefix: this.prefix,
      concurrency: 16,
      maxStalledCount: 10,
    });
    this.worker.on('error', (err) => this.log.error({ err }, 'result consumer error'));
    this.stream = new ResultStreamReader(
      this.connection,
      {
        key: resultsStreamKey(this.prefix),
        group: RESULTS_GROUP,
        consumer: `${hostname()}.${process.pid}.${Date.now().toString(36)}`,
        concurrency: 16,
        blockMs: 1000,
        claimIdleMs: 3000,
        ...this.streamOptions,
      },
      (id, message) => this.process(message, id),
      this.log,
    );
    this.stream.start();
  }

  async stop(): Promise<void> {
    await Promise.all([this.worker?.close(), this.stream?.stop()]);
    this.worker = undefined;
    this.stream = undefined;
  }

  /** A worker confirmed it stopped every VM of its host: the host is fenced on that evidence (once). */
  private async fenced(msg: HostFencedResult, jobId: string): Promise<void> {
    const fenceId = derivedOperationId(`fence:${jobId}`);
    await handleCommand(
      this.aggregates,
      hostDecider,
      hostStream(msg.hostId),
      {
        type: 'FenceHost',
        fenceId,
        by: msg.principal,
        reason: 'its worker force-stopped every VM of the host while shutting down (WORKER_FENCE_ON_SHUTDOWN)',
        confirmation: { confirmedBy: msg.confirmedBy, stoppedVms: msg.stoppedVms },
      },
      { principal: msg.principal, correlationId: fenceId, causationId: jobId },
    );
  }

  /**
   * A step's outcome with what the job did before it: the operation running (a step that ended
   * before its `started` went out on its own, as if it had), then the job's earlier step (a
   * create's define before its start), then the outcome.
   */
  private commandsFor(
    msg: Exclude<ResultMessage, HostFencedResult | VolumeResultMessage>,
    outcome: VmCommand,
  ): VmCommand[] {
    if (msg.kind !== 'succeeded' && msg.kind !== 'failed') return [outcome];
    const commands: VmCommand[] = [];
    const priors = priorSteps(msg.prior);
    if (msg.started)
      commands.push({ type: 'MarkOperationRunning', operationId: msg.operationId, step: priors[0]?.step ?? msg.step });
    // A prior the log has already recorded decides nothing (the decider awaits a later step by then).
    for (const prior of priors) commands.push(resultToCommand({ ...msg, kind: 'succeeded', ...prior }, new Date()));
    commands.push(outcome);
    return commands;
  }

  /** One result, under the id its worker gave it. */
  async process(msg: ResultMessage, id: string | undefined): Promise<void> {
    if (msg.kind === 'fenced') return this.fenced(msg, id ?? `fence.${msg.hostId}`);
    if (msg.kind === 'volume') {
      // A volume's own step reports to the volume's stream (one result per step, as for VMs).
      const meta = { principal: msg.principal, correlationId: msg.operationId, causationId: msg.jobId };
      await handleCommand(this.aggregates, volumeDecider, volumeStream(msg.volumeId), volumeResultToCommand(msg), meta);
      this.processed++;
      return;
    }
    const label = msg.kind === 'observed' ? 'observed' : `${msg.kind} ${msg.step}`;
    tracePhase(msg.vmId, `consumer got ${label}`);
    const cmd = resultToCommand(msg, new Date());
    const meta: CommandMeta =
      msg.kind === 'observed'
        ? { principal: msg.principal, correlationId: `reconcile-${msg.hostId}`, causationId: id ?? 'reconcile' }
        : { principal: msg.principal, correlationId: msg.operationId, causationId: msg.jobId };
    const t0 = performance.now();
    try {
      // An observation holds for the revision it was made at only: a stale one must not close a newer operation.
      const ifMatch = msg.kind === 'observed' && msg.revision !== undefined ? { ifMatch: BigInt(msg.revision) } : {};
      // One append for the whole result (one load, one commit): the commands in the order the decider needs them.
      await handleCommands(this.aggregates, vmDecider, vmStream(msg.vmId), this.commandsFor(msg, cmd), meta, ifMatch);
      tracePhase(msg.vmId, `consumer appended ${label}`);
      this.onCommand?.(cmd.type, performance.now() - t0, true);
    } catch (err) {
      if (err instanceof PreconditionFailedError) {
        this.log.debug({ vm: msg.vmId, err: err.message }, 'stale observation dropped');
        this.onCommand?.(cmd.type, performance.now() - t0, false);
        return;
      }
      throw err;
    } finally {
      this.processed++;
    }
  }
}
