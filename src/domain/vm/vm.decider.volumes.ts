import { DomainError } from '../domain-error.js';
import type { VmCommand } from './vm.commands.js';
import type { VmEvent } from './vm.events.js';
import type { VmState } from './vm.state.js';
import type { JobStep } from './vm.types.js';

type Cmd<T extends VmCommand['type']> = Extract<VmCommand, { type: T }>;

/** The VM's side of attach and detach: the volume's own stream has already claimed (or still holds) it. */
function mustBeReady(state: VmState, verb: string): void {
  if (!state.exists) throw new DomainError('not_found', 'VM not found');
  if (state.state === 'deleted') throw new DomainError('not_found', `VM ${state.id} was deleted`);
  if (state.pending) {
    throw new DomainError(
      'conflict',
      `VM ${state.id} is busy with operation ${state.pending.id} (${state.pending.kind}); retry when it has finished`,
      { operationId: state.pending.id, kind: state.pending.kind },
    );
  }
  if (state.state !== 'stopped' && state.state !== 'running') {
    throw new DomainError(
      'conflict',
      `cannot ${verb} a volume of a VM that is ${state.state} (allowed from: stopped, running)`,
      { state: state.state },
    );
  }
}

function mustHotplug(state: VmState, hotplug: boolean, verb: string): void {
  if (state.state === 'running' && !hotplug) {
    throw new DomainError(
      'conflict',
      `the host's driver cannot ${verb} a volume while the VM runs (cold only): stop VM ${state.id} first`,
      { state: state.state },
    );
  }
}

function attach(cmd: Cmd<'AttachVolume'>, state: VmState): VmEvent[] {
  mustBeReady(state, 'attach');
  if (state.spec?.volumes?.some((v) => v.volumeId === cmd.volume.volumeId)) {
    throw new DomainError('conflict', `volume ${cmd.volume.volumeId} is already attached to VM ${state.id}`);
  }
  mustHotplug(state, cmd.hotplug, 'attach');
  return [
    {
      type: 'VmVolumeAttachRequested',
      data: { operationId: cmd.operationId, volume: cmd.volume, live: state.state === 'running' },
    },
  ];
}

function detach(cmd: Cmd<'DetachVolume'>, state: VmState): VmEvent[] {
  mustBeReady(state, 'detach');
  if (!state.spec?.volumes?.some((v) => v.volumeId === cmd.volumeId)) {
    throw new DomainError('not_found', `volume ${cmd.volumeId} is not attached to VM ${state.id}`);
  }
  mustHotplug(state, cmd.hotplug, 'detach');
  return [
    {
      type: 'VmVolumeDetachRequested',
      data: { operationId: cmd.operationId, volumeId: cmd.volumeId, live: state.state === 'running' },
    },
  ];
}

/** The VM's record of a volume that grew; one it does not hold (detached meanwhile), or the same size: nothing. */
function noteSize(cmd: Cmd<'NoteVolumeSize'>, state: VmState): VmEvent[] {
  const held = state.spec?.volumes?.find((v) => v.volumeId === cmd.volumeId);
  if (!held || held.sizeGiB === cmd.sizeGiB || state.state === 'deleted') return [];
  return [{ type: 'VmVolumeResized', data: { volumeId: cmd.volumeId, sizeGiB: cmd.sizeGiB } }];
}

export function decideVmVolume(
  cmd: Cmd<'AttachVolume'> | Cmd<'DetachVolume'> | Cmd<'NoteVolumeSize'>,
  state: VmState,
): VmEvent[] {
  if (cmd.type === 'NoteVolumeSize') return noteSize(cmd, state);
  return cmd.type === 'AttachVolume' ? attach(cmd, state) : detach(cmd, state);
}

export type VmVolumeStep = Extract<
  JobStep,
  'attachVolume' | 'detachVolume' | 'createVolume' | 'resizeVolume' | 'deleteVolume'
>;

export function isVolumeStep(step: JobStep | 'placement'): step is VmVolumeStep {
  return (
    step === 'attachVolume' ||
    step === 'detachVolume' ||
    step === 'createVolume' ||
    step === 'resizeVolume' ||
    step === 'deleteVolume'
  );
}

/** A volume step's success, for the operation in flight (the caller checked it awaits this step). */
export function volumeStepSucceeded(step: VmVolumeStep, state: VmState): VmEvent[] {
  const p = state.pending;
  if (!p?.volume) return [];
  if (step === 'attachVolume') return [{ type: 'VmVolumeAttached', data: { operationId: p.id, volume: p.volume } }];
  if (step === 'detachVolume') {
    return [{ type: 'VmVolumeDetached', data: { operationId: p.id, volumeId: p.volume.volumeId } }];
  }
  // The volume's own steps report to the volume's stream, never to a VM.
  return [];
}
