import { DomainError } from '../domain/domain-error.js';
import { hostDecider } from '../domain/host/host.decider.js';
import { hostStream, vmStream, volumeStream } from '../domain/streams.js';
import { vmDecider } from '../domain/vm/vm.decider.js';
import { upcast } from '../domain/upcasters.js';
import { volumeDecider } from '../domain/volume/volume.decider.js';
import type { VolumeCommand } from '../domain/volume/volume.commands.js';
import { VOLUME_REQUEST_KIND, type VolumeEvent } from '../domain/volume/volume.events.js';
import type { VolumeState } from '../domain/volume/volume.state.js';
import type { RecordedEvent } from '../eventstore/event-store.port.js';
import type { SagaAction } from '../sagas/saga.actions.js';
import { volumeSaga } from '../sagas/volume.saga.js';
import { EventStates } from './event-states.js';
import { handleCommand, type CommandMeta } from './handle-command.js';
import type { VolumeJobData } from './jobs.js';
import type { AggregateLoader } from './load-aggregate.js';
import type { JobSink } from './ports.js';

const VOLUME_ACTIONS = [
  'enqueueVolume',
  'releaseVolume',
  'releaseVolumeDisk',
  'moveVolume',
  'reserveVolumeDisk',
  'noteVmVolumeSize',
] as const;
type VolumeAction = Extract<SagaAction, { type: (typeof VOLUME_ACTIONS)[number] }>;

export function isVolumeAction(action: SagaAction): action is VolumeAction {
  return (VOLUME_ACTIONS as readonly string[]).includes(action.type);
}

/**
 * The saga runner's volume side: a volume's own events become jobs on its host's queue, and
 * the actions on volume and host streams that VM events ask for (a claim released, disk given
 * back). Each is guarded like the VM's: a replay does nothing twice.
 */
export class VolumeSagaSteps {
  private readonly states: EventStates<VolumeCommand, VolumeEvent, VolumeState>;

  constructor(
    private readonly aggregates: AggregateLoader,
    private readonly jobs: JobSink,
  ) {
    this.states = new EventStates(aggregates, volumeDecider);
  }

  async handleVolumeEvent(recorded: RecordedEvent): Promise<void> {
    const { before, after } = await this.states.around(recorded);
    const event = { type: recorded.type, data: upcast(recorded).data } as VolumeEvent;
    const meta: CommandMeta = {
      principal: recorded.metadata.principal,
      correlationId: recorded.metadata.correlationId,
      causationId: recorded.id,
    };
    for (const [i, action] of volumeSaga(event, before, after).entries()) {
      await this.perform(action as VolumeAction, recorded, meta, i);
    }
  }

  /**
   * After Redis came back empty: the job of every volume operation still pending is put back
   * (its request event handled again: same job id, so a surviving job is not doubled).
   */
  async redrive(): Promise<number> {
    const store = this.aggregates.store;
    const ids = new Set<string>();
    let after: bigint | undefined;
    for (;;) {
      const page = await store.readAll({
        ...(after !== undefined ? { after } : {}),
        streamPrefixes: ['volume-'],
        maxCount: 1000,
      });
      if (!page.length) break;
      for (const e of page) ids.add(e.streamId);
      after = page[page.length - 1]!.position;
      if (page.length < 1000) break;
    }
    let count = 0;
    for (const streamId of ids) {
      const { state } = await this.aggregates.load(volumeDecider, streamId);
      const p = state.pending;
      if (!p) continue;
      const events = await store.readStream(streamId);
      const request = events.find(
        (e) =>
          VOLUME_REQUEST_KIND[e.type as VolumeEvent['type']] &&
          (e.data as { operationId?: string }).operationId === p.id,
      );
      if (!request) continue;
      await this.handleVolumeEvent(request);
      count++;
    }
    return count;
  }

  async perform(action: VolumeAction, cause: RecordedEvent, meta: CommandMeta, index: number): Promise<void> {
    switch (action.type) {
      case 'enqueueVolume': {
        const { state } = await this.aggregates.load(volumeDecider, volumeStream(action.volumeId));
        // Done already (a replay), or closed meanwhile: no job.
        if (state.pending?.id !== action.operationId || state.pending.kind !== action.step) return;
        const { type: _t, hostId, ...job } = action;
        const data = { ...job, principal: cause.metadata.principal, causationId: cause.id } as VolumeJobData;
        if (!this.jobs.enqueueVolumeJob) throw new Error('this job sink cannot queue volume jobs');
        await this.jobs.enqueueVolumeJob(hostId, index === 0 ? cause.id : `${cause.id}.${index}`, data);
        return;
      }
      case 'releaseVolume':
        await handleCommand(
          this.aggregates,
          volumeDecider,
          volumeStream(action.volumeId),
          { type: 'ReleaseVolume', vmId: action.vmId, operationId: action.operationId, reason: action.reason },
          meta,
        );
        return;
      case 'noteVmVolumeSize':
        await handleCommand(
          this.aggregates,
          vmDecider,
          vmStream(action.vmId),
          { type: 'NoteVolumeSize', volumeId: action.volumeId, sizeGiB: action.sizeGiB },
          meta,
        );
        return;
      case 'moveVolume':
        await handleCommand(
          this.aggregates,
          volumeDecider,
          volumeStream(action.volumeId),
          { type: 'MoveVolume', vmId: action.vmId, operationId: action.operationId, hostId: action.hostId },
          meta,
        );
        return;
      case 'reserveVolumeDisk':
        try {
          await handleCommand(
            this.aggregates,
            hostDecider,
            hostStream(action.hostId),
            {
              type: 'ReserveVolumeDisk',
              volumeId: action.volumeId,
              operationId: action.operationId,
              sizeGiB: action.sizeGiB,
            },
            meta,
          );
        } catch (err) {
          // The file is already there (the migration carried it): a full host is reported, not undone.
          if (!(err instanceof DomainError) || err.code !== 'capacity') throw err;
        }
        return;
      case 'releaseVolumeDisk':
        await handleCommand(
          this.aggregates,
          hostDecider,
          hostStream(action.hostId),
          { type: 'ReleaseVolumeDisk', volumeId: action.volumeId, operationId: action.operationId },
          meta,
        );
        return;
    }
  }
}
