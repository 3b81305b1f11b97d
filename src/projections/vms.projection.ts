import type { RecordedEvent } from '../eventstore/event-store.port.js';
import { projectNameOf, vmIdOf } from '../domain/streams.js';
import { isProjectEventType } from '../domain/project/project.events.js';
import { applyProjectEvent } from './projects.read-model.js';
import { upcast } from '../domain/upcasters.js';
import { isVmEventType, REQUEST_EVENT_KIND, type VmEvent } from '../domain/vm/vm.events.js';
import { evolveVm, initialVmState, vmProject } from '../domain/vm/vm.state.js';
import type { Projection, ProjectionTx } from './projection.js';
import type { ReadModelKeys } from './read-model.keys.js';
import type { OperationView, VmRecord } from './read-model.types.js';
import { applyRebuildEvent } from './rebuild-operation.js';
import { isRebuildEventType, projectionOf, type RebuildEvent } from './rebuild.events.js';
import { applyEvacuationStarted, evacuationChildDone } from './evacuation-operation.js';
import { hostIdOf, volumeIdOf } from '../domain/streams.js';
import { isVolumeEventType, type VolumeEvent } from '../domain/volume/volume.events.js';
import { applyVolumeOperation } from './volume-operation.js';
import type { HostEvacuationStarted } from '../domain/host/host.events.js';
import { updateLiveIndexes } from './vm-live-indexes.js';

/**
 * VMs and their operations. The VM view is the decider's own state folded by
 * the decider's own evolve, so the read model cannot drift from the rules;
 * an operation's status follows from the VM's pending operation opening and
 * closing. Rebuild operations (`projection-<name>` streams) are operations too,
 * so they live here, beside the others, in the same indexes; so do projects, whose
 * usage is read from the VMs indexed per project here.
 */
export class VmsProjection implements Projection {
  readonly name = 'vms';

  constructor(private readonly keys: ReadModelKeys) {}

  owns(relativeKey: string): boolean {
    return (
      relativeKey === 'vms' ||
      relativeKey === 'ops' ||
      relativeKey === 'projects' ||
      relativeKey.startsWith('vms:') ||
      relativeKey.startsWith('project:') ||
      relativeKey.startsWith('vm:') ||
      relativeKey.startsWith('op:') ||
      relativeKey.startsWith('ops:')
    );
  }

  async apply(recorded: RecordedEvent, tx: ProjectionTx): Promise<void> {
    if (projectionOf(recorded.streamId) !== undefined && isRebuildEventType(recorded.type)) {
      const e = upcast(recorded);
      return applyRebuildEvent(this.keys, e, { type: e.type, data: e.data } as RebuildEvent, tx);
    }
    if (projectNameOf(recorded.streamId) !== undefined && isProjectEventType(recorded.type)) {
      return applyProjectEvent(this.keys, upcast(recorded), tx);
    }
    const hostId = hostIdOf(recorded.streamId);
    if (hostId && recorded.type === 'HostEvacuationStarted') {
      const e = upcast(recorded);
      return applyEvacuationStarted(this.keys, e, hostId, e.data as HostEvacuationStarted['data'], tx);
    }
    const volumeId = volumeIdOf(recorded.streamId);
    if (volumeId && isVolumeEventType(recorded.type)) {
      const e = upcast(recorded);
      const event = { type: e.type, data: e.data } as VolumeEvent;
      const project = 'project' in event.data ? event.data.project : '';
      return applyVolumeOperation(this.keys, volumeId, project, e, event, tx);
    }
    const vmId = vmIdOf(recorded.streamId);
    if (!vmId || !isVmEventType(recorded.type)) return;
    const e = upcast(recorded);
    const event = { type: e.type, data: e.data } as VmEvent;
    const at = e.metadata.at;
    const prev = await tx.get<VmRecord>(this.keys.vm(vmId));
    const before = prev?.state ?? initialVmState();
    const after = evolveVm(before, event);
    tx.set(this.keys.vm(vmId), {
      state: after,
      revision: e.revision.toString(),
      createdAt: prev?.createdAt ?? at,
      updatedAt: at,
    } satisfies VmRecord);
    if (!prev) {
      tx.index(this.keys.vmIndex(), Number(e.position), vmId);
      tx.index(this.keys.vmsByProject(vmProject(after)), Number(e.position), vmId);
    }
    await updateLiveIndexes(this.keys, vmId, Number(e.position), before, after, !prev, tx);
    await this.applyOperation(vmId, vmProject(after), event, e, before.pending, after.pending, tx, after.hostId);
  }

  private async applyOperation(
    vmId: string,
    project: string,
    event: VmEvent,
    e: RecordedEvent,
    before: VmRecord['state']['pending'],
    after: VmRecord['state']['pending'],
    tx: ProjectionTx,
    hostNow: string | null,
  ): Promise<void> {
    const at = e.metadata.at;
    // A restart's start continues the operation VmRestartScheduled opened (same id): no new one.
    const continues = event.type === 'VmStartRequested' && event.data.restart !== undefined;
    // A cold resize is its own operation, done when recorded; a live one closes what VmResizeStarted opened.
    const cold = event.type === 'VmResized' && !event.data.live;
    const kind = cold ? 'resize' : continues ? undefined : REQUEST_EVENT_KIND[event.type];
    if (kind) {
      const id = (event.data as { operationId: string }).operationId;
      const op: OperationView = {
        id,
        kind,
        vmId,
        project,
        status: 'pending',
        error: null,
        principal: e.metadata.principal,
        createdAt: at,
        updatedAt: at,
        ...(e.metadata.reason ? { reason: e.metadata.reason } : {}),
        ...(event.type === 'VmVolumeAttachRequested' ? { volumeId: event.data.volume.volumeId } : {}),
        ...(event.type === 'VmVolumeDetachRequested' ? { volumeId: event.data.volumeId } : {}),
        ...(after?.id === id ? { progress: { step: after.awaiting } } : {}),
        // Scheduled, not begun: it waits for its time (the event's notBefore).
        ...(event.type === 'VmRestartScheduled' ? { progress: { step: 'scheduled' } } : {}),
        // A cold resize has no worker step: recorded is done.
        ...(cold ? { status: 'succeeded' as const, progress: { step: 'done', percent: 100 } } : {}),
      };
      tx.set(this.keys.operation(id), op);
      const score = Number(e.position);
      tx.index(this.keys.operationIndex(), score, id);
      tx.index(this.keys.operationsByVm(vmId), score, id);
      tx.index(this.keys.operationsByPrincipal(e.metadata.principal), score, id);
      return;
    }
    const opId = 'operationId' in event.data ? event.data.operationId : before?.id;
    if (!opId) return;
    const op = await tx.get<OperationView>(this.keys.operation(opId));
    if (!op) return;
    let next: OperationView = { ...op, updatedAt: at };
    if (event.type === 'VmHealingCancelled') {
      const { by, reason } = event.data;
      next = { ...next, status: 'cancelled', error: reason, cancelled: { by, reason } };
    } else if (event.type === 'VmOperationFailed') {
      // A cancelled operation is closed by the same event as a failed one, marked with who cancelled it.
      next = event.data.cancelled
        ? { ...next, status: 'cancelled', error: event.data.reason, cancelled: event.data.cancelled }
        : { ...next, status: 'failed', error: event.data.reason };
    } else if (event.type === 'VmOperationCancelRequested') {
      next = { ...next, cancelRequested: event.data.cancelled };
    } else if (event.type === 'VmOperationRunning') {
      if (op.status === 'pending') next = { ...next, status: 'running' };
    } else if (event.type === 'VmMigrationProgressed') {
      const { operationId: _id, ...progress } = event.data;
      next = {
        ...next,
        status: op.status === 'pending' ? 'running' : op.status,
        progress: { ...op.progress, ...progress },
      };
    } else if (before?.id === opId && after?.id !== opId) {
      next = { ...next, status: 'succeeded', progress: { ...op.progress, step: 'done', percent: 100 } };
    } else if (after?.id === opId && before?.awaiting !== after.awaiting) {
      next = {
        ...next,
        status: op.status === 'pending' ? 'running' : op.status,
        progress: { ...op.progress, step: after.awaiting },
      };
    } else {
      return;
    }
    tx.set(this.keys.operation(opId), next);
    if (next.status !== op.status && (next.status === 'succeeded' || next.status === 'failed')) {
      await evacuationChildDone(this.keys, next, hostNow ?? '', at, tx);
    }
  }
}
