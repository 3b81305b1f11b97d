import type { RecordedEvent } from '../eventstore/event-store.port.js';
import { projectNameOf, vmIdOf } from '../domain/streams.js';
import { isProjectEventType } from '../domain/project/project.events.js';
import { applyProjectEvent } from './projects.read-model.js';
import { upcast } from '../domain/upcasters.js';
import { isVmEventType, type VmEvent } from '../domain/vm/vm.events.js';
import { evolveVm, initialVmState, vmProject, type VmState } from '../domain/vm/vm.state.js';
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
import { countLiveIndexed, updateLiveIndexes } from './vm-live-indexes.js';
import { advancedOperation, openedOperation, touchesOperation } from './vm-operation.js';

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

  /** The branches of apply below, in its order: an event none of them takes is one apply ignores. */
  handles({ streamId, type }: Pick<RecordedEvent, 'streamId' | 'type'>): boolean {
    return (
      (projectionOf(streamId) !== undefined && isRebuildEventType(type)) ||
      (projectNameOf(streamId) !== undefined && isProjectEventType(type)) ||
      (!!hostIdOf(streamId) && type === 'HostEvacuationStarted') ||
      (!!volumeIdOf(streamId) && isVolumeEventType(type)) ||
      (!!vmIdOf(streamId) && isVmEventType(type))
    );
  }

  /**
   * Not `async`: on a replay's fold (which reads with `peek`) a VM event, most of any log, is
   * applied with no promise and no microtask; the other branches and the live transaction's
   * reads return a promise, which the caller awaits.
   */
  apply(recorded: RecordedEvent, tx: ProjectionTx): void | Promise<void> {
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
    const vmKey = this.keys.vm(vmId);
    // A replay's fold reads without a promise (peek); the live transaction reads Redis.
    if (tx.peek) return this.applyToVm(recorded, vmId, vmKey, tx.peek<VmRecord>(vmKey), tx);
    return tx.get<VmRecord>(vmKey).then((prev) => this.applyToVm(recorded, vmId, vmKey, prev, tx));
  }

  /** A VM event once the VM's record is read (`prev`, undefined before its first event). */
  private applyToVm(
    recorded: RecordedEvent,
    vmId: string,
    vmKey: string,
    prev: VmRecord | undefined,
    tx: ProjectionTx,
  ): void | Promise<void> {
    const e = upcast(recorded);
    const event = { type: e.type, data: e.data } as VmEvent;
    const at = e.metadata.at;
    const before = prev?.state ?? initialVmState();
    const after = evolveVm(before, event);
    tx.set(vmKey, {
      state: after,
      revision: e.revision.toString(),
      createdAt: prev?.createdAt ?? at,
      updatedAt: at,
    } satisfies VmRecord);
    const score = Number(e.position);
    if (!prev) {
      tx.index(this.keys.vmIndex(), score, vmId);
      tx.index(this.keys.vmsByProject(vmProject(after)), score, vmId);
      const counting = countLiveIndexed(this.keys, tx);
      // The writes stay in the order they had when every read was awaited (the live MULTI's order).
      if (counting) return counting.then(() => this.applyToIndexesAndOperation(e, event, vmId, before, after, tx));
    }
    return this.applyToIndexesAndOperation(e, event, vmId, before, after, tx);
  }

  /** A VM event's writes after its record: the live indexes, and the operation it opens, advances or closes. */
  private applyToIndexesAndOperation(
    e: RecordedEvent,
    event: VmEvent,
    vmId: string,
    before: VmState,
    after: VmState,
    tx: ProjectionTx,
  ): void | Promise<void> {
    const score = Number(e.position);
    updateLiveIndexes(this.keys, vmId, score, before, after, tx);
    const op = openedOperation(vmId, vmProject(after), event, e, after.pending);
    if (op) {
      tx.set(this.keys.operation(op.id), op);
      tx.index(this.keys.operationIndex(), score, op.id);
      tx.index(this.keys.operationsByVm(vmId), score, op.id);
      tx.index(this.keys.operationsByPrincipal(e.metadata.principal), score, op.id);
      return;
    }
    const opId = 'operationId' in event.data ? event.data.operationId : before.pending?.id;
    // Most events that open nothing close or advance nothing either: the operation is not read for them.
    if (!opId || !touchesOperation(event, opId, before.pending, after.pending)) return;
    const opKey = this.keys.operation(opId);
    if (tx.peek) return this.advanceOperation(event, opId, opKey, e.metadata.at, before, after, tx.peek(opKey), tx);
    return tx
      .get<OperationView>(opKey)
      .then((current) => this.advanceOperation(event, opId, opKey, e.metadata.at, before, after, current, tx));
  }

  /** The operation `opId` once read (`current`), after an event that opens none. */
  private advanceOperation(
    event: VmEvent,
    opId: string,
    opKey: string,
    at: string,
    before: VmState,
    after: VmState,
    current: OperationView | undefined,
    tx: ProjectionTx,
  ): void | Promise<void> {
    if (!current) return;
    const next = advancedOperation(current, event, opId, before.pending, after.pending, at);
    if (!next) return;
    tx.set(opKey, next);
    if (next.status !== current.status && (next.status === 'succeeded' || next.status === 'failed')) {
      if (next.parentOperationId) return evacuationChildDone(this.keys, next, after.hostId ?? '', at, tx);
    }
  }
}
