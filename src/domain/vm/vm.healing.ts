import { DomainError } from '../domain-error.js';
import type { VmCommand } from './vm.commands.js';
import type { VmEvent } from './vm.events.js';
import type { VmState } from './vm.state.js';
import type { ObservedState } from './evidence.js';
import type { RestartPolicy } from './vm.types.js';
import { NO_HEALING, type HealingSettings, type HealingState } from './vm.healing-state.js';

export type { HealingSettings, HealingState, ScheduledRestart } from './vm.healing-state.js';

type Cmd<T extends VmCommand['type']> = Extract<VmCommand, { type: T }>;

export function healingOf(state: Pick<VmState, 'healing'>): HealingState {
  return state.healing ?? NO_HEALING;
}

export function policyOf(state: Pick<VmState, 'restartPolicy'>): RestartPolicy {
  return state.restartPolicy ?? 'never';
}

/**
 * Whether the way the VM went down calls for a restart: `on-crash` answers a process that died
 * (crashed) or vanished (absent); `always` also a guest that powered itself off (stopped).
 */
export function policyCovers(policy: RestartPolicy, observed: ObservedState): boolean {
  if (policy === 'always') return observed !== 'running' && observed !== 'paused';
  if (policy === 'on-crash') return observed === 'crashed' || observed === 'absent';
  return false;
}

/** Exponential backoff: base, 2×base, 4×base … capped at max. */
export function backoffMs(settings: HealingSettings, restartsInWindow: number): number {
  return Math.min(settings.maxMs, settings.baseMs * 2 ** Math.min(restartsInWindow, 30));
}

/** The crash (or failed restart) the VM is down for, when healing should answer it. */
function healable(state: VmState): boolean {
  if (!state.exists || state.state !== 'stopped' || state.pending) return false;
  const crash = state.crash;
  // Down because its host was fenced: restarting it there is impossible, recovery decides elsewhere.
  if (!crash || crash.fence) return false;
  return policyCovers(policyOf(state), crash.observed ?? 'crashed');
}

export function onScheduleRestart(cmd: Cmd<'ScheduleRestart'>, state: VmState): VmEvent[] {
  const h = healingOf(state);
  if (!healable(state) || h.scheduled || h.lastCauseEventId === cmd.causeEventId) return [];
  const causeMs = Date.parse(cmd.causeAt);
  const inWindow = h.history.filter((t) => Date.parse(t) > causeMs - cmd.settings.windowMs).length;
  const cause = { causeEventId: cmd.causeEventId, causePosition: cmd.causePosition };
  if (inWindow >= cmd.settings.maxRestarts) {
    return [
      {
        type: 'VmHealingGaveUp',
        data: {
          ...cause,
          restarts: inWindow,
          windowMs: cmd.settings.windowMs,
          reason:
            `restarted ${inWindow} times within ${cmd.settings.windowMs} ms (limit ${cmd.settings.maxRestarts}): ` +
            'healing gave up; the VM stays crashed until someone starts it',
        },
      },
    ];
  }
  const delayMs = backoffMs(cmd.settings, inWindow);
  return [
    {
      type: 'VmRestartScheduled',
      data: {
        operationId: cmd.operationId,
        ...cause,
        causeAt: cmd.causeAt,
        policy: policyOf(state),
        attempt: inWindow + 1,
        delayMs,
        notBefore: new Date(causeMs + delayMs).toISOString(),
      },
    },
  ];
}

/** The timer of a scheduled restart fired: the normal start path, unless the VM moved on meanwhile. */
export function onFireRestart(cmd: Cmd<'FireRestart'>, state: VmState): VmEvent[] {
  const s = healingOf(state).scheduled;
  if (!s || s.operationId !== cmd.operationId) return [];
  if (state.pending || state.state !== 'stopped') {
    const why = state.pending ? `busy with operation ${state.pending.id} (${state.pending.kind})` : state.state;
    return [
      {
        type: 'VmHealingCancelled',
        data: { operationId: s.operationId, by: cmd.by, reason: `not restarted: the VM is ${why}` },
      },
    ];
  }
  return [
    {
      type: 'VmStartRequested',
      data: { operationId: s.operationId, restart: { causeEventId: s.causeEventId, attempt: s.attempt } },
    },
  ];
}

/** An operator's start or stop supersedes the restart healing has scheduled: it is cancelled first. */
export function cancelScheduledRestart(state: VmState, by: string, supersededBy: string, verb: string): VmEvent[] {
  const s = healingOf(state).scheduled;
  if (!s) return [];
  return [
    {
      type: 'VmHealingCancelled',
      data: { operationId: s.operationId, by, reason: `cancelled: superseded by ${verb} ${supersededBy}` },
    },
  ];
}

/**
 * An operator's stop of a crashed VM: it is down already, so nothing runs on a host; the stop
 * acknowledges the crash (the VM reads `stopped`) and cancels any restart healing scheduled.
 */
export function acknowledgeCrash(cmd: Cmd<'StopVm'>, state: VmState): VmEvent[] | undefined {
  if (state.state !== 'stopped' || !state.crash || state.pending) return undefined;
  return [
    ...cancelScheduledRestart(state, cmd.by ?? 'unknown', cmd.operationId, 'stop'),
    { type: 'VmStopRequested', data: { operationId: cmd.operationId, force: cmd.force } },
    { type: 'VmStopped', data: { operationId: cmd.operationId } },
  ];
}

export function onSetRestartPolicy(cmd: Cmd<'SetRestartPolicy'>, state: VmState): VmEvent[] {
  if (!state.exists || state.state === 'deleted') throw new DomainError('not_found', 'VM not found');
  if (policyOf(state) === cmd.policy) return [];
  return [
    ...(cmd.policy === 'never' ? cancelScheduledRestart(state, cmd.by, cmd.operationId, 'restartPolicy never') : []),
    { type: 'VmRestartPolicyChanged', data: { operationId: cmd.operationId, policy: cmd.policy } },
  ];
}
