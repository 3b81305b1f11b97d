import type { Logger } from 'pino';
import { DomainError } from '../domain/domain-error.js';
import type { RecordedEvent } from '../eventstore/event-store.port.js';
import { hostDecider } from '../domain/host/host.decider.js';
import type { VmCommand } from '../domain/vm/vm.commands.js';
import { vmDecider } from '../domain/vm/vm.decider.js';
import type { VmState } from '../domain/vm/vm.state.js';
import type { JobStep } from '../domain/vm/vm.types.js';
import type { SagaAction } from '../sagas/saga.actions.js';
import type { HostJobData } from './jobs.js';
import { faultBeforeEnqueue } from './fault-points.js';
import { tracePhase } from './phase-trace.js';
import { handleCommand, type CommandMeta, type HandleResult } from './handle-command.js';
import type { KeyedMutex } from './keyed-mutex.js';
import type { AggregateLoader } from './load-aggregate.js';
import { type HostDirectory, placeVm } from './placement.js';
import { releaseNics } from './network-admission.js';
import { settleResizeReservation } from './resize-reservation.js';
import type { JobSink } from './ports.js';
import { hostStream, vmStream } from '../domain/streams.js';
import { isVolumeAction, type VolumeSagaSteps } from './volume-saga-steps.js';

/** Fires a scheduled restart at its time (see RestartTimers in restart-timers.ts). */
export interface RestartTimerPort {
  /** `causationId`: the VmRestartScheduled event, so /why follows the restart back to its crash. */
  schedule(vmId: string, operationId: string, notBefore: string, causationId?: string): void;
}

/**
 * What the VM sagas asked for, done against the ports (streams, queues, timers). Every
 * side effect is guarded by the VM's current state, so a replayed event does nothing
 * twice; `current` is the VM as it was before the event's first action (see SagaRunner.handleVmEvent).
 */
export class VmSagaActions {
  constructor(
    private readonly aggregates: AggregateLoader,
    private readonly jobs: JobSink,
    private readonly hosts: HostDirectory,
    /**
     * Placement reads every host and then reserves on one: two lanes placing at once
     * would both pick the last free slot. Placements and capacity changes take turns.
     */
    private readonly capacity: KeyedMutex,
    private readonly volumes: VolumeSagaSteps,
    private readonly log: Logger,
    private readonly timers: RestartTimerPort | undefined,
  ) {}

  private async awaits(
    current: () => Promise<VmState>,
    operationId: string,
    step: JobStep | 'placement',
  ): Promise<boolean> {
    const { pending } = await current();
    return pending?.id === operationId && pending.awaiting === step;
  }

  /** Returns false when the rest of the event's actions must not run. */
  async perform(
    action: SagaAction,
    current: () => Promise<VmState>,
    cause: RecordedEvent,
    meta: CommandMeta,
    index: number,
  ): Promise<boolean> {
    if (isVolumeAction(action)) {
      await this.volumes.perform(action, cause, meta, index);
      return true;
    }
    switch (action.type) {
      case 'place': {
        if (!(await this.awaits(current, action.operationId, 'placement'))) return false;
        // The reservation and VmPlaced in one commit where the store can (placement.ts reserveOn).
        const result = await this.capacity.run('hosts', () =>
          placeVm(this.aggregates, this.hosts, action, meta, cause.position, true),
        );
        const cmd: VmCommand = result.ok
          ? { type: 'PlaceVm', operationId: action.operationId, hostId: result.hostId, evidence: result.evidence }
          : {
              type: 'FailPlacement',
              operationId: action.operationId,
              reason: result.reason,
              evidence: result.evidence,
            };
        const decided = result.ok && result.vm ? result.vm : await this.vmCommand(action.vmId, cmd, meta);
        // VmPlaced is in the log now (this command appended it, and the VM awaits its define: not
        // cancelled or deleted meanwhile), so the define's result finds the VM placed. The saga's pass
        // over VmPlaced queues the same job id again (ignored), or queues it if this did not.
        const placed =
          decided.events.some((e) => e.type === 'VmPlaced') && decided.state.pending?.awaiting === 'define';
        if (result.ok && action.define && placed) {
          const { args, jobId } = action.define;
          const define = { vmId: action.vmId, operationId: action.operationId, step: 'define' as const, args };
          await this.enqueue({ type: 'enqueue', hostId: result.hostId, ...define, jobId }, decided.state, cause, index);
        }
        return true;
      }
      case 'reserve': {
        if (!(await this.awaits(current, action.operationId, action.failStep))) return false;
        try {
          const { vmId, operationId, vcpus, memoryMiB, diskGiB } = action;
          await this.capacity.run('hosts', () =>
            handleCommand(
              this.aggregates,
              hostDecider,
              hostStream(action.hostId),
              {
                type: 'ReserveCapacity',
                vmId,
                operationId,
                vcpus,
                memoryMiB,
                ...(diskGiB !== undefined ? { diskGiB } : {}),
              },
              meta,
            ),
          );
          return true;
        } catch (err) {
          if (!(err instanceof DomainError)) throw err;
          await this.vmCommand(
            action.vmId,
            { type: 'RecordStepFailed', operationId: action.operationId, step: action.failStep, reason: err.message },
            meta,
          );
          return false;
        }
      }
      case 'release': {
        // Never free capacity the VM holds again (it migrated back, say) when replaying old events.
        const vm = await current();
        const holds = vm.hostId === action.hostId && vm.state !== 'deleted' && vm.state !== 'failed';
        const incoming = vm.migration?.targetHostId === action.hostId;
        if (holds || incoming) return true;
        await handleCommand(
          this.aggregates,
          hostDecider,
          hostStream(action.hostId),
          { type: 'ReleaseCapacity', vmId: action.vmId, operationId: action.operationId },
          meta,
        );
        return true;
      }
      case 'resizeReservation': {
        const vm = await current();
        await this.capacity.run('hosts', () => settleResizeReservation(this.aggregates, action, vm, meta, this.log));
        return true;
      }
      case 'releaseAddresses':
        // Replays are harmless: a VM that holds no address on a network decides nothing there.
        await releaseNics(this.aggregates, action.vmId, action.networkIds, meta);
        return true;
      case 'enqueue':
        if (!(await this.awaits(current, action.operationId, action.step))) return false;
        await this.enqueue(action, await current(), cause, index);
        return true;
      case 'compensate':
        await this.enqueue(action, await current(), cause, index);
        return true;
      case 'command':
        await this.vmCommand(action.vmId, action.command, { ...meta, principal: 'system:healing' });
        return true;
      case 'timer':
        // Only a restart still scheduled gets a timer (a replay of an old event finds it begun or cancelled).
        if ((await current()).healing?.scheduled?.operationId === action.operationId) {
          this.timers?.schedule(action.vmId, action.operationId, action.notBefore, cause.id);
        }
        return true;
      case 'recoverHost':
        return true; // host events only (handleHostEvent)
    }
  }

  private async enqueue(
    action: Extract<SagaAction, { type: 'enqueue' | 'compensate' }>,
    current: VmState,
    cause: RecordedEvent,
    index: number,
  ): Promise<void> {
    const spec = current.spec;
    if (!spec) return;
    // The job id is the causing event's id: a replay re-adds the same id and BullMQ ignores it.
    const jobId = action.jobId ?? (index === 0 ? cause.id : `${cause.id}.${index}`);
    // The step and its typed arguments travel as the saga built them; `type`, `hostId` and `jobId` say where, not what.
    const { type: _type, hostId: _hostId, jobId: _jobId, ...job } = action;
    const data: HostJobData = {
      ...job,
      spec: { id: action.vmId, ...spec },
      principal: cause.metadata.principal,
      causationId: cause.id,
      ...(action.type === 'compensate' ? { compensation: true } : {}),
    };
    faultBeforeEnqueue(action.step);
    await this.jobs.enqueueHostJob(action.hostId, jobId, data);
    tracePhase(action.vmId, `enqueued ${action.step}`);
  }

  private vmCommand(vmId: string, cmd: VmCommand, meta: CommandMeta): Promise<HandleResult<VmState>> {
    // A command already decided (a replay after a crash) decides no events: nothing to catch.
    return handleCommand(this.aggregates, vmDecider, vmStream(vmId), cmd, meta);
  }
}
