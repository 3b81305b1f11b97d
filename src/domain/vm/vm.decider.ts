import { DomainError } from '../domain-error.js';
import type { Decider } from '../decider.js';
import type { ObservedState, VmCommand } from './vm.commands.js';
import type { Evidence } from './evidence.js';
import type { VmEvent } from './vm.events.js';
import { evolveVm, initialVmState, type PendingOperation, type VmState } from './vm.state.js';
import { closeCancelledMigration, onCancel, supersedeGracefulStop, supersedesGracefulStop } from './vm.cancel.js';
import {
  acknowledgeCrash,
  cancelScheduledRestart,
  onFireRestart,
  onScheduleRestart,
  onSetRestartPolicy,
} from './vm.healing.js';
import { onMarkLost, onRecover } from './vm.recovery.js';
import type { CapabilityView, JobStep, VmStateName } from './vm.types.js';
import { decideVmVolume, isVolumeStep, volumeStepSucceeded } from './vm.decider.volumes.js';
import { mustExist, mustSupport, ready } from './vm.guards.js';
import { onResize, resizeSucceeded } from './vm.decider.resize.js';

type Cmd<T extends VmCommand['type']> = Extract<VmCommand, { type: T }>;

function hasSnapshot(state: VmState, name: string): boolean {
  return state.snapshots.some((s) => s.name === name);
}

/**
 * A result counts only for the operation in flight and the step it waits for;
 * anything else was recorded before (a redelivery) or belongs to an operation
 * already closed: undefined, and the caller decides no events.
 */
function pendingFor(state: VmState, operationId: string, step: JobStep | 'placement'): PendingOperation | undefined {
  const p = state.pending;
  return p && p.id === operationId && p.awaiting === step ? p : undefined;
}

function onStepSucceeded(cmd: Cmd<'RecordStepSucceeded'>, state: VmState): VmEvent[] {
  const p = pendingFor(state, cmd.operationId, cmd.step);
  if (!p) return [];
  const operationId = p.id;
  if (isVolumeStep(cmd.step)) return volumeStepSucceeded(cmd.step, state);
  switch (cmd.step) {
    case 'define': {
      // Only where a start is awaited does "the same job starts it" mean anything.
      const startFollows = cmd.output.startFollows === true && state.startAfterCreate === true && p.kind === 'create';
      return [
        {
          type: 'VmDefined',
          data: { operationId, hostId: state.hostId ?? '', ...(startFollows ? { startFollows } : {}) },
        },
      ];
    }
    case 'start':
      return [{ type: 'VmStarted', data: { operationId } }];
    case 'stop':
      return [{ type: 'VmStopped', data: { operationId } }];
    case 'reboot':
      return [{ type: 'VmRebooted', data: { operationId } }];
    case 'pause':
      return [{ type: 'VmPaused', data: { operationId } }];
    case 'resume':
      return [{ type: 'VmResumed', data: { operationId } }];
    case 'snapshot':
      return [
        {
          type: 'VmSnapshotTaken',
          data: { operationId, name: p.snapshotName ?? '', memory: p.memory ?? false, createdAt: cmd.at },
        },
      ];
    case 'revert':
      return [
        {
          type: 'VmSnapshotReverted',
          data: { operationId, name: p.snapshotName ?? '', state: cmd.output.state ?? 'stopped' },
        },
      ];
    case 'deleteSnapshot':
      return [{ type: 'VmSnapshotDeleted', data: { operationId, name: p.snapshotName ?? '' } }];
    case 'prepareIncoming':
      return (
        closeCancelledMigration(
          state,
          `the target on ${state.migration?.targetHostId ?? '?'} was prepared; it is aborted`,
        ) ?? [
          {
            type: 'VmMigrationTargetPrepared',
            data: {
              operationId,
              targetHostId: state.migration?.targetHostId ?? '',
              endpoint: cmd.output.endpoint ?? {},
            },
          },
        ]
      );
    case 'migrate':
      return [
        { type: 'VmMigrationHandedOff', data: { operationId, targetHostId: state.migration?.targetHostId ?? '' } },
      ];
    case 'finishIncoming':
      return [
        {
          type: 'VmMigrated',
          data: {
            operationId,
            sourceHostId: state.migration?.sourceHostId ?? '',
            targetHostId: state.migration?.targetHostId ?? '',
          },
        },
      ];
    case 'destroy':
      return [{ type: 'VmDeleted', data: { operationId } }];
    case 'resizeLive':
      return resizeSucceeded(p);
    case 'abortIncoming':
      // Compensation runs after the operation has already failed: never awaited, so unreachable here.
      return [];
  }
}

/** Where a VM lands when a step fails: back where it was, unless the failure left it unusable. */
function stateAfterFailure(state: VmState, step: JobStep | 'placement'): VmStateName {
  const p = state.pending;
  if (!p) return state.state;
  if (p.kind === 'create') return 'failed';
  if (p.kind === 'migrate' && step === 'finishIncoming') return 'failed';
  return p.stateBefore;
}

function failed(state: VmState, step: JobStep | 'placement', reason: string, evidence?: Evidence): VmEvent[] {
  const p = state.pending;
  if (!p) return [];
  return [
    {
      type: 'VmOperationFailed',
      data: {
        operationId: p.id,
        kind: p.kind,
        step,
        reason,
        state: stateAfterFailure(state, step),
        ...(evidence ? { evidence } : {}),
      },
    },
  ];
}

function observedAs(observed: ObservedState): VmStateName {
  switch (observed) {
    case 'running':
      return 'running';
    case 'paused':
      return 'paused';
    case 'stopped':
    case 'crashed':
      return 'stopped';
    case 'absent':
      return 'failed';
  }
}

function onObserved(cmd: Cmd<'ReportObservedState'>, state: VmState): VmEvent[] {
  if (!state.exists || state.state === 'deleted') return [];
  // The observation acted on goes into whatever event it decides.
  const evidence = cmd.evidence ? { evidence: cmd.evidence } : {};
  const p = state.pending;
  if (p) {
    if (cmd.jobActive) return [];
    // A pending operation with no job left anywhere will never finish by itself: close it with the real state.
    const to = p.kind === 'delete' && cmd.observed === 'absent' ? 'deleted' : observedAs(cmd.observed);
    if (to === 'deleted') return [{ type: 'VmDeleted', data: { operationId: p.id, ...evidence } }];
    return [
      {
        type: 'VmOperationFailed',
        data: {
          operationId: p.id,
          kind: p.kind,
          step: p.awaiting,
          reason: `abandoned: no job is running for it and the driver reports the VM ${cmd.observed} (${cmd.reason})`,
          state: to,
          ...evidence,
        },
      },
    ];
  }
  const from = state.state;
  const up = from === 'running' || from === 'paused';
  if (up && (cmd.observed === 'stopped' || cmd.observed === 'crashed' || cmd.observed === 'absent')) {
    return [{ type: 'VmCrashed', data: { reason: cmd.reason, previousState: from, ...evidence } }];
  }
  const to = observedAs(cmd.observed);
  if ((from === 'running' || from === 'paused' || from === 'stopped') && to !== from && to !== 'failed') {
    return [{ type: 'VmStateReconciled', data: { from, to, reason: cmd.reason, ...evidence } }];
  }
  return [];
}

function checkMigration(cmd: Cmd<'MigrateVm'>, state: VmState): void {
  ready(state, ['running', 'stopped'], 'migrate');
  if (cmd.targetHostId === state.hostId) {
    throw new DomainError('invalid', `targetHostId: the VM already runs on host ${cmd.targetHostId}`);
  }
  if (cmd.source.driver !== cmd.target.driver) {
    throw new DomainError(
      'unsupported',
      `cannot migrate between a ${cmd.source.driver} host and a ${cmd.target.driver} host`,
    );
  }
  if (cmd.live) {
    if (state.state !== 'running') throw new DomainError('conflict', 'live migration needs a running VM');
    mustSupport(cmd.source.capabilities.liveMigration && cmd.target.capabilities.liveMigration, 'live-migrate');
    const internal = state.snapshots.filter((s) => s.memory).map((s) => s.name);
    if (internal.length > 0 && !cmd.internalSnapshotsTravel) {
      // QEMU's disk mirror (and libvirt's --copy-storage-all) copies the active layer only: the internal
      // snapshots inside the source's qcow2 would be lost on the target, so the migration is refused up front.
      throw new DomainError(
        'conflict',
        `a live migration copies the disk without its internal snapshots (${internal.join(', ')}); ` +
          'delete them first, or stop the VM and migrate cold',
        { snapshots: internal },
      );
    }
    if ((state.liveMemoryGrownMiB ?? 0) > 0 && cmd.hotplugLayoutTravels === false) {
      // The target would start with the spec's memory as boot RAM, not the source's boot RAM + DIMMs.
      throw new DomainError(
        'conflict',
        `the VM was given ${state.liveMemoryGrownMiB} MiB of memory live since it started, which a live ` +
          'migration to other storage cannot rebuild on the target; stop and start it (or migrate it cold) first',
        { liveMemoryGrownMiB: state.liveMemoryGrownMiB },
      );
    }
  } else {
    if (state.state !== 'stopped') {
      throw new DomainError('conflict', 'cold migration needs a stopped VM: stop it first or ask for live: true');
    }
    mustSupport(cmd.source.capabilities.coldMigration && cmd.target.capabilities.coldMigration, 'cold-migrate');
  }
}

function snapshotCheck(cmd: Cmd<'TakeSnapshot'>, state: VmState, caps: CapabilityView): void {
  ready(state, ['running', 'paused', 'stopped'], 'snapshot');
  if (hasSnapshot(state, cmd.name)) throw new DomainError('conflict', `snapshot ${cmd.name} already exists`);
  if (cmd.memory) {
    if (state.state === 'stopped') {
      throw new DomainError('conflict', 'a memory snapshot needs a running or paused VM; ask for memory: false');
    }
    mustSupport(caps.memorySnapshots, 'take memory snapshots');
  } else {
    mustSupport(caps.diskSnapshots, 'take disk snapshots');
  }
}

export function decideVm(cmd: VmCommand, state: VmState): VmEvent[] {
  switch (cmd.type) {
    case 'CreateVm':
      if (state.exists) throw new DomainError('conflict', `VM ${cmd.vmId} already exists`);
      return [
        {
          type: 'VmCreateRequested',
          data: {
            vmId: cmd.vmId,
            operationId: cmd.operationId,
            spec: cmd.spec,
            requestedHostId: cmd.hostId,
            start: cmd.start,
            ...(cmd.project !== undefined ? { project: cmd.project } : {}),
            ...(cmd.restartPolicy && cmd.restartPolicy !== 'never' ? { restartPolicy: cmd.restartPolicy } : {}),
          },
        },
      ];
    case 'PlaceVm':
      // Placed already (a saga replay) or closed meanwhile: nothing to do.
      if (!pendingFor(state, cmd.operationId, 'placement')) return [];
      return [
        {
          type: 'VmPlaced',
          data: {
            operationId: cmd.operationId,
            hostId: cmd.hostId,
            ...(cmd.evidence ? { evidence: cmd.evidence } : {}),
          },
        },
      ];
    case 'FailPlacement':
      if (!pendingFor(state, cmd.operationId, 'placement')) return [];
      return failed(state, 'placement', cmd.reason, cmd.evidence);
    case 'StartVm':
      ready(state, ['stopped'], 'start');
      return [
        ...cancelScheduledRestart(state, cmd.by ?? 'unknown', cmd.operationId, 'start'),
        { type: 'VmStartRequested', data: { operationId: cmd.operationId } },
      ];
    case 'StopVm': {
      // A crashed VM is down already: the stop acknowledges it and cancels the restart healing scheduled.
      const acknowledged = state.exists ? acknowledgeCrash(cmd, state) : undefined;
      if (acknowledged) return acknowledged;
      const superseded = supersedesGracefulStop(cmd, state) ? supersedeGracefulStop(cmd, state) : [];
      // The superseded stop is closed first: the VM is back in the state it had, then the forced stop goes.
      const after = superseded.reduce(evolveVm, state);
      ready(after, ['running', 'paused'], 'stop');
      return [
        ...superseded,
        {
          type: 'VmStopRequested',
          data: {
            operationId: cmd.operationId,
            force: cmd.force,
            ...(cmd.timeoutMs ? { timeoutMs: cmd.timeoutMs } : {}),
          },
        },
      ];
    }
    case 'CancelOperation':
      mustExist(state);
      return onCancel(cmd, state);
    case 'RebootVm':
      ready(state, ['running'], 'reboot');
      mustSupport(cmd.capabilities.reboot, 'reboot');
      return [{ type: 'VmRebootRequested', data: { operationId: cmd.operationId } }];
    case 'PauseVm':
      ready(state, ['running'], 'pause');
      mustSupport(cmd.capabilities.pause, 'pause');
      return [{ type: 'VmPauseRequested', data: { operationId: cmd.operationId } }];
    case 'ResumeVm':
      ready(state, ['paused'], 'resume');
      mustSupport(cmd.capabilities.pause, 'resume');
      return [{ type: 'VmResumeRequested', data: { operationId: cmd.operationId } }];
    case 'TakeSnapshot':
      snapshotCheck(cmd, state, cmd.capabilities);
      return [
        { type: 'VmSnapshotRequested', data: { operationId: cmd.operationId, name: cmd.name, memory: cmd.memory } },
      ];
    case 'RevertSnapshot':
      ready(state, ['running', 'paused', 'stopped'], 'revert');
      if (!hasSnapshot(state, cmd.name)) throw new DomainError('not_found', `snapshot ${cmd.name} not found`);
      return [{ type: 'VmSnapshotRevertRequested', data: { operationId: cmd.operationId, name: cmd.name } }];
    case 'DeleteSnapshot':
      ready(state, ['running', 'paused', 'stopped'], 'delete a snapshot of');
      if (!hasSnapshot(state, cmd.name)) throw new DomainError('not_found', `snapshot ${cmd.name} not found`);
      return [{ type: 'VmSnapshotDeleteRequested', data: { operationId: cmd.operationId, name: cmd.name } }];
    case 'MigrateVm':
      checkMigration(cmd, state);
      return [
        {
          type: 'VmMigrationRequested',
          data: {
            operationId: cmd.operationId,
            sourceHostId: state.hostId ?? '',
            targetHostId: cmd.targetHostId,
            live: cmd.live,
          },
        },
      ];
    case 'DeleteVm': {
      const requested = { type: 'VmDeleteRequested' as const, data: { operationId: cmd.operationId } };
      const p = state.pending;
      if (state.exists && p?.kind === 'create' && p.awaiting === 'placement') {
        // Still waiting for placement: nothing is on any host, so the delete closes the create and finishes at once.
        return [
          {
            type: 'VmOperationFailed',
            data: {
              operationId: p.id,
              kind: 'create',
              step: 'placement',
              reason: `cancelled: the VM was deleted by operation ${cmd.operationId}`,
              state: 'failed',
            },
          },
          requested,
          { type: 'VmDeleted', data: { operationId: cmd.operationId } },
        ];
      }
      ready(state, ['stopped', 'running', 'paused', 'failed', 'requested'], 'delete');
      // Nothing was ever placed on a host: there is nothing for a worker to destroy.
      if (!state.hostId) return [requested, { type: 'VmDeleted', data: { operationId: cmd.operationId } }];
      return [requested];
    }
    case 'MarkOperationRunning': {
      const p = state.pending;
      if (!p || p.id !== cmd.operationId || p.running) return [];
      return [{ type: 'VmOperationRunning', data: { operationId: p.id, step: cmd.step } }];
    }
    case 'RecordStepSucceeded':
      return onStepSucceeded(cmd, state);
    case 'RecordStepFailed':
      if (!pendingFor(state, cmd.operationId, cmd.step)) return [];
      return closeCancelledMigration(state, cmd.reason) ?? failed(state, cmd.step, cmd.reason);
    case 'RecordMigrationProgress': {
      const p = state.pending;
      if (!p || p.id !== cmd.operationId || p.kind !== 'migrate') return [];
      return [{ type: 'VmMigrationProgressed', data: { operationId: p.id, ...cmd.progress } }];
    }
    case 'ReportObservedState':
      return onObserved(cmd, state);
    case 'ResizeVm':
      return onResize(cmd, state);
    case 'ScheduleRestart':
      return onScheduleRestart(cmd, state);
    case 'FireRestart':
      return onFireRestart(cmd, state);
    case 'SetRestartPolicy':
      return onSetRestartPolicy(cmd, state);
    case 'RecoverVm':
      return onRecover(cmd, state);
    case 'MarkLostWithHost':
      return onMarkLost(cmd, state);
    case 'AttachVolume':
    case 'DetachVolume':
    case 'NoteVolumeSize':
      return decideVmVolume(cmd, state);
  }
}

export const vmDecider: Decider<VmCommand, VmEvent, VmState> = {
  initialState: initialVmState,
  decide: decideVm,
  evolve: evolveVm,
};
