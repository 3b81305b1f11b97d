import type { VmCommand } from './vm.commands.js';
import type { VmEvent } from './vm.events.js';
import type { VmState } from './vm.state.js';
import type { VmStateName } from './vm.types.js';

type Cmd<T extends VmCommand['type']> = Extract<VmCommand, { type: T }>;

/**
 * Whether the VM was meant to be up when its host was fenced: running, paused, migrating, or
 * crashed (down unasked). A VM someone stopped stays stopped: there is nothing to recover.
 */
export function meantToRun(state: VmState): boolean {
  if (['running', 'paused', 'migrating', 'provisioning'].includes(state.state)) return true;
  return state.state === 'stopped' && (!!state.crash || state.pending?.kind === 'start');
}

/**
 * Where the guest runs as far as a fence is concerned. Before a migration's hand-off, on its
 * source; from the hand-off on, on the target only (the source's copy is gone: QEMU quit in
 * `postmigrate`, libvirt undefined it), although the record keeps the source until finishIncoming.
 */
export function guestHostOf(state: VmState): string | null {
  return state.migration?.handedOff ? state.migration.targetHostId : state.hostId;
}

/**
 * The operation in flight on the dead host will never finish there: closed first, naming the
 * fence. A migration handed off to the fenced host ends there: the VM is recorded on that host,
 * where its guest ran, before it is recovered or marked lost like the host's other VMs.
 */
function closePending(state: VmState, hostId: string, fenceId: string): VmEvent[] {
  const p = state.pending;
  if (!p) return [];
  const m = state.migration;
  if (p.kind === 'migrate' && m?.handedOff && m.targetHostId === hostId) {
    return [
      {
        type: 'VmOperationFailed',
        data: {
          operationId: p.id,
          kind: p.kind,
          step: p.awaiting,
          reason:
            `the target host ${hostId} was fenced (${fenceId}) after ${m.sourceHostId} handed the VM off: ` +
            'its guest ran there only, so the migration cannot finish',
          state: 'stopped',
          hostId,
        },
      },
    ];
  }
  return [
    {
      type: 'VmOperationFailed',
      data: {
        operationId: p.id,
        kind: p.kind,
        step: p.awaiting,
        reason: `host ${hostId} was fenced (${fenceId}) while this operation ran there`,
        state: 'stopped',
      },
    },
  ];
}

/** The VM still belongs to the fenced host and this fence has not been acted on for it. */
function onFencedHost(state: VmState, hostId: string, fenceId: string): boolean {
  if (!state.exists || state.state === 'deleted' || state.state === 'failed') return false;
  // A migration the fenced host already handed off lives on its target: it is not the fenced
  // host's (the target finishes it). One handed off to the fenced host is that host's.
  if (guestHostOf(state) !== hostId) return false;
  if (state.recoveredFences?.includes(fenceId)) return false;
  return state.crash?.fence?.fenceId !== fenceId;
}

/**
 * Re-place the VM of a fenced host on a host sharing its storage and start it there: at most
 * once per fence, and only while the VM is still the fenced host's. The caller checked the host
 * is fenced (this fence) and reserved the target's capacity.
 */
export function onRecover(cmd: Cmd<'RecoverVm'>, state: VmState): VmEvent[] {
  if (!onFencedHost(state, cmd.fromHostId, cmd.fenceId) || !meantToRun(state)) return [];
  const { operationId, fenceId, fromHostId, targetHostId, evidence } = cmd;
  return [
    ...closePending(state, fromHostId, fenceId),
    { type: 'VmRecoveryRequested', data: { operationId, fenceId, fromHostId, targetHostId, evidence } },
  ];
}

/**
 * A migration towards the fenced host that has not handed the VM off yet can never finish: it
 * fails, and the VM stays where it runs (the source); the migration saga compensates as usual.
 */
function abortMigrationTo(cmd: Cmd<'MarkLostWithHost'>, state: VmState): VmEvent[] | undefined {
  const m = state.migration;
  const p = state.pending;
  if (!m || m.targetHostId !== cmd.hostId || m.handedOff || p?.kind !== 'migrate') return undefined;
  return [
    {
      type: 'VmOperationFailed',
      data: {
        operationId: p.id,
        kind: 'migrate',
        step: p.awaiting,
        reason: `the target host ${cmd.hostId} was fenced (${cmd.fenceId}); the VM stays on ${m.sourceHostId}`,
        state: p.stateBefore,
      },
    },
  ];
}

/** Down with its fenced host, not recovered: it reads crashed, with why (needs an operator). */
export function onMarkLost(cmd: Cmd<'MarkLostWithHost'>, state: VmState): VmEvent[] {
  const aborted = state.exists ? abortMigrationTo(cmd, state) : undefined;
  if (aborted) return aborted;
  if (!onFencedHost(state, cmd.hostId, cmd.fenceId) || !meantToRun(state)) return [];
  const closed = closePending(state, cmd.hostId, cmd.fenceId);
  // A migration in flight was not what the VM was doing for its owner: it ran before it.
  const previousState: VmStateName =
    state.state === 'stopped'
      ? (state.crash?.previousState ?? 'running')
      : state.state === 'migrating'
        ? (state.pending?.stateBefore ?? 'running')
        : state.state;
  return [
    ...closed,
    {
      type: 'VmCrashed',
      data: { reason: cmd.reason, previousState, fence: { hostId: cmd.hostId, fenceId: cmd.fenceId } },
    },
  ];
}
