import { createHash } from 'node:crypto';
import type { HostEvent } from '../domain/host/host.events.js';
import type { HealingSettings } from '../domain/vm/vm.healing.js';
import type { VmEvent } from '../domain/vm/vm.events.js';
import type { VmState } from '../domain/vm/vm.state.js';
import type { SagaAction } from './saga.actions.js';

/** The recorded event a saga reacts to, as far as healing needs it (the cause it names). */
export interface Cause {
  id: string;
  position: string;
  at: string;
}

/**
 * A UUID-shaped id derived from the cause: a replay of the same event asks for the same
 * operation, so nothing random enters a pure saga.
 */
export function derivedOperationId(seed: string): string {
  const h = createHash('sha256').update(seed).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function scheduleRestart(vmId: string, cause: Cause, settings: HealingSettings): SagaAction {
  return {
    type: 'command',
    vmId,
    command: {
      type: 'ScheduleRestart',
      operationId: derivedOperationId(`restart:${cause.id}`),
      causeEventId: cause.id,
      causePosition: cause.position,
      causeAt: cause.at,
      settings,
    },
  };
}

/**
 * Healing over one VM event: a crash (or a restart/recovery that failed) of a VM whose
 * restartPolicy covers it asks for a restart, which the decider schedules with backoff or gives
 * up on; a scheduled restart gets a timer; a recovery defines the VM on its new host and gives the
 * fenced host's reservation back. The decider re-checks every rule, so a replay changes nothing.
 */
export function healingSaga(event: VmEvent, cause: Cause, after: VmState, settings: HealingSettings): SagaAction[] {
  const vmId = after.id;
  if (!vmId) return [];
  const policy = after.restartPolicy ?? 'never';
  switch (event.type) {
    case 'VmCrashed':
      return policy !== 'never' && !event.data.fence ? [scheduleRestart(vmId, cause, settings)] : [];
    case 'VmOperationFailed': {
      const k = event.data.kind;
      const retry = (k === 'restart' || k === 'recover') && !event.data.cancelled && policy !== 'never';
      return retry ? [scheduleRestart(vmId, cause, settings)] : [];
    }
    case 'VmRestartPolicyChanged':
      // A crashed VM given a policy is answered now, as if it had just crashed.
      return policy !== 'never' && after.crash && !after.crash.fence ? [scheduleRestart(vmId, cause, settings)] : [];
    case 'VmRestartScheduled':
      return [{ type: 'timer', vmId, operationId: event.data.operationId, notBefore: event.data.notBefore }];
    case 'VmRecoveryRequested': {
      const d = event.data;
      return [
        { type: 'release', hostId: d.fromHostId, vmId, operationId: d.operationId },
        { type: 'enqueue', hostId: d.targetHostId, vmId, operationId: d.operationId, step: 'define', args: {} },
      ];
    }
    default:
      return [];
  }
}

/** A fenced host: each of its VMs is recovered elsewhere or marked lost (planned per VM by the runner). */
export function fenceSaga(event: HostEvent, hostId: string): SagaAction[] {
  return event.type === 'HostFenced' ? [{ type: 'recoverHost', hostId, fenceId: event.data.fenceId }] : [];
}
