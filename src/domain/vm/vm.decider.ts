import { DomainError } from '../domain-error.js';
import type { Decider } from '../decider.js';
import type { VmCommand } from './vm.commands.js';
import type { VmEvent } from './vm.events.js';
import { evolveVm, initialVmState, type VmState } from './vm.state.js';
import { closeCancelledMigration, onCancel, supersedeGracefulStop, supersedesGracefulStop } from './vm.cancel.js';
import {
  acknowledgeCrash,
  cancelScheduledRestart,
  onFireRestart,
  onScheduleRestart,
  onSetRestartPolicy,
} from './vm.healing.js';
import { onMarkLost, onRecover } from './vm.recovery.js';
import type { CapabilityView } from './vm.types.js';
import { decideVmVolume } from './vm.decider.volumes.js';
import { mustExist, mustSupport, ready } from './vm.guards.js';
import { onResize } from './vm.decider.resize.js';
import { failed, onObserved, onStepSucceeded, pendingFor } from './vm.decider.results.js';

type Cmd<T extends VmCommand['type']> = Extract<VmCommand, { type: T }>;

function hasSnapshot(state: VmState, name: string): boolean {
  return state.snapshots.some((s) => s.name === name);
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
