import type { Decider } from '../decider.js';
import { DomainError } from '../domain-error.js';
import type { VolumeCommand } from './volume.commands.js';
import type { VolumeEvent } from './volume.events.js';
import { evolveVolume, initialVolumeState, type VolumeState } from './volume.state.js';

type Cmd<T extends VolumeCommand['type']> = Extract<VolumeCommand, { type: T }>;

function mustExist(state: VolumeState): void {
  if (!state.exists) throw new DomainError('not_found', 'volume not found');
  if (state.status === 'deleted') throw new DomainError('not_found', `volume ${state.id} was deleted`);
}

function mustBeIdle(state: VolumeState): void {
  if (state.pending) {
    throw new DomainError(
      'conflict',
      `volume ${state.id} is busy with operation ${state.pending.id} (${state.pending.kind}); retry when it has finished`,
      { operationId: state.pending.id, kind: state.pending.kind },
    );
  }
}

function mustBeFree(state: VolumeState, verb: string): void {
  if (state.attachedTo) {
    throw new DomainError(
      'conflict',
      `cannot ${verb} volume ${state.id}: it is attached to VM ${state.attachedTo}; detach it first`,
      { attachedTo: state.attachedTo },
    );
  }
}

function onResize(cmd: Cmd<'ResizeVolume'>, state: VolumeState): VolumeEvent[] {
  mustExist(state);
  if (state.pending?.kind === 'resizeVolume' && state.pending.sizeGiB === cmd.sizeGiB) return [];
  mustBeIdle(state);
  if (cmd.sizeGiB === state.sizeGiB) return [];
  if (cmd.sizeGiB < state.sizeGiB) {
    // Shrinking would cut off whatever the guest wrote at the end: no driver does it.
    throw new DomainError(
      'unsupported',
      `sizeGiB: a volume only grows (volume ${state.id} has ${state.sizeGiB} GiB, asked ${cmd.sizeGiB})`,
      { sizeGiB: state.sizeGiB, requested: cmd.sizeGiB },
    );
  }
  if (state.status !== 'available') throw new DomainError('conflict', `volume ${state.id} is ${state.status}`);
  return [
    {
      type: 'VolumeResizeRequested',
      data: {
        operationId: cmd.operationId,
        fromGiB: state.sizeGiB,
        sizeGiB: cmd.sizeGiB,
        project: state.project,
        // Attached: the host grows it through the VM's QEMU (block_resize) when that runs.
        ...(state.attachedTo ? { vmId: state.attachedTo } : {}),
      },
    },
  ];
}

function onDelete(cmd: Cmd<'DeleteVolume'>, state: VolumeState): VolumeEvent[] {
  if (state.exists && (state.status === 'deleted' || state.pending?.kind === 'deleteVolume')) return [];
  mustExist(state);
  mustBeIdle(state);
  mustBeFree(state, 'delete');
  return [{ type: 'VolumeDeleteRequested', data: { operationId: cmd.operationId, project: state.project } }];
}

function onClaim(cmd: Cmd<'ClaimVolume'>, state: VolumeState): VolumeEvent[] {
  mustExist(state);
  if (state.attachedTo === cmd.vmId) {
    throw new DomainError('conflict', `volume ${state.id} is already attached to VM ${cmd.vmId}`, {
      attachedTo: cmd.vmId,
    });
  }
  mustBeFree(state, 'attach');
  mustBeIdle(state);
  if (state.status !== 'available') {
    throw new DomainError('conflict', `volume ${state.id} is ${state.status}; only an available volume attaches`);
  }
  if (cmd.vmHostId !== null && cmd.vmHostId !== state.hostId) {
    throw new DomainError(
      'conflict',
      `volume ${state.id} is on host ${state.hostId} and VM ${cmd.vmId} on host ${cmd.vmHostId}: ` +
        'a volume attaches only to a VM on its own host',
      { volumeHostId: state.hostId, vmHostId: cmd.vmHostId },
    );
  }
  return [{ type: 'VolumeAttached', data: { vmId: cmd.vmId, operationId: cmd.operationId } }];
}

export function decideVolume(cmd: VolumeCommand, state: VolumeState): VolumeEvent[] {
  switch (cmd.type) {
    case 'CreateVolume': {
      if (state.exists) {
        if (state.pending?.id === cmd.operationId || state.id === cmd.volumeId) return [];
        throw new DomainError('conflict', `volume ${cmd.volumeId} already exists`);
      }
      const { type: _t, ...data } = cmd;
      return [{ type: 'VolumeCreateRequested', data }];
    }
    case 'ResizeVolume':
      return onResize(cmd, state);
    case 'DeleteVolume':
      return onDelete(cmd, state);
    case 'ClaimVolume':
      return onClaim(cmd, state);
    case 'MoveVolume':
      // Only the VM holding it moves it; a replay (already there) decides nothing.
      if (state.attachedTo !== cmd.vmId || state.hostId === cmd.hostId) return [];
      return [
        {
          type: 'VolumeMoved',
          data: { vmId: cmd.vmId, operationId: cmd.operationId, fromHostId: state.hostId ?? '', toHostId: cmd.hostId },
        },
      ];
    case 'ReleaseVolume':
      if (state.attachedTo !== cmd.vmId) return [];
      return [{ type: 'VolumeDetached', data: { vmId: cmd.vmId, operationId: cmd.operationId, reason: cmd.reason } }];
    case 'RecordVolumeStepSucceeded': {
      const p = state.pending;
      if (!p || p.id !== cmd.operationId || p.kind !== cmd.step) return [];
      if (p.kind === 'createVolume') return [{ type: 'VolumeCreated', data: { operationId: p.id } }];
      if (p.kind === 'resizeVolume') {
        return [{ type: 'VolumeResized', data: { operationId: p.id, sizeGiB: p.sizeGiB ?? state.sizeGiB } }];
      }
      return [{ type: 'VolumeDeleted', data: { operationId: p.id } }];
    }
    case 'RecordVolumeStepFailed': {
      const p = state.pending;
      if (!p || p.id !== cmd.operationId || p.kind !== cmd.step) return [];
      return [{ type: 'VolumeOperationFailed', data: { operationId: p.id, kind: p.kind, reason: cmd.reason } }];
    }
  }
}

export const volumeDecider: Decider<VolumeCommand, VolumeEvent, VolumeState> = {
  initialState: initialVolumeState,
  decide: decideVolume,
  evolve: evolveVolume,
};
