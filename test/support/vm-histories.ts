import { fold } from '../../src/domain/decider.js';
import { given } from './decider-spec.js';
import { vmDecider } from '../../src/domain/vm/vm.decider.js';
import type { VmEvent } from '../../src/domain/vm/vm.events.js';
import type { CapabilityView, JobStep, OperationKind, VmSpecData, VmStateName } from '../../src/domain/vm/vm.types.js';

/**
 * Histories and event builders shared by the VM decider specs (vm.decider.*.spec.ts):
 * the literal shapes of the log, one history per reachable state.
 */

export const VM_ID = 'vm-1';
export const HOST_A = 'host-a';
export const HOST_B = 'host-b';
export const AT = '2030-01-02T03:04:05.000Z';
export const SPEC: VmSpecData = { name: 'web-1', vcpus: 2, memoryMiB: 2048, diskGiB: 20 };
export const ALL: CapabilityView = {
  liveMigration: true,
  coldMigration: true,
  memorySnapshots: true,
  diskSnapshots: true,
  pause: true,
  reboot: true,
};
export const without = (...missing: Exclude<keyof CapabilityView, 'hotResize'>[]): CapabilityView => {
  const caps = { ...ALL };
  for (const k of missing) caps[k] = false;
  return caps;
};

export const CREATE = 'op-create';
export const NEW = 'op-new';
export const ENDPOINT = { host: '127.0.0.1', port: 4444, tls: false };

export const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
export const busyMessage = (id: string, kind: OperationKind): RegExp =>
  new RegExp(`busy with operation ${escape(id)} \\(${kind}\\)`);

// Event builders: the literal shapes of the log.
export const createRequested = (
  o: { start?: boolean; hostId?: string | null; operationId?: string } = {},
): VmEvent => ({
  type: 'VmCreateRequested',
  data: {
    vmId: VM_ID,
    operationId: o.operationId ?? CREATE,
    spec: SPEC,
    requestedHostId: o.hostId ?? null,
    start: o.start ?? true,
  },
});
export const placed = (hostId = HOST_A): VmEvent => ({ type: 'VmPlaced', data: { operationId: CREATE, hostId } });
export const defined = (hostId = HOST_A): VmEvent => ({ type: 'VmDefined', data: { operationId: CREATE, hostId } });
export const startRequested = (operationId: string): VmEvent => ({ type: 'VmStartRequested', data: { operationId } });
export const started = (operationId: string): VmEvent => ({ type: 'VmStarted', data: { operationId } });
export const stopRequested = (operationId: string, force = false): VmEvent => ({
  type: 'VmStopRequested',
  data: { operationId, force },
});
export const stoppedEv = (operationId: string): VmEvent => ({ type: 'VmStopped', data: { operationId } });
export const pauseRequested = (operationId: string): VmEvent => ({ type: 'VmPauseRequested', data: { operationId } });
export const pausedEv = (operationId: string): VmEvent => ({ type: 'VmPaused', data: { operationId } });
export const snapshotRequested = (operationId: string, name: string, memory: boolean): VmEvent => ({
  type: 'VmSnapshotRequested',
  data: { operationId, name, memory },
});
export const snapshotTaken = (operationId: string, name: string, memory: boolean, createdAt = AT): VmEvent => ({
  type: 'VmSnapshotTaken',
  data: { operationId, name, memory, createdAt },
});
export const migrationRequested = (operationId: string, from: string, to: string, live: boolean): VmEvent => ({
  type: 'VmMigrationRequested',
  data: { operationId, sourceHostId: from, targetHostId: to, live },
});
export const targetPrepared = (operationId: string, to: string): VmEvent => ({
  type: 'VmMigrationTargetPrepared',
  data: { operationId, targetHostId: to, endpoint: ENDPOINT },
});
export const handedOff = (operationId: string, to: string): VmEvent => ({
  type: 'VmMigrationHandedOff',
  data: { operationId, targetHostId: to },
});
export const migrated = (operationId: string, from: string, to: string): VmEvent => ({
  type: 'VmMigrated',
  data: { operationId, sourceHostId: from, targetHostId: to },
});
export const deleteRequested = (operationId: string): VmEvent => ({ type: 'VmDeleteRequested', data: { operationId } });
export const deletedEv = (operationId: string): VmEvent => ({ type: 'VmDeleted', data: { operationId } });
export const operationFailed = (
  operationId: string,
  kind: OperationKind,
  step: JobStep | 'placement',
  reason: string,
  state: VmStateName,
): VmEvent => ({ type: 'VmOperationFailed', data: { operationId, kind, step, reason, state } });

// Histories, one per reachable state (and the busy variants). Every idle VM on a host carries snapshot "base".
export const H = {
  requested: [createRequested()],
  provisioning: [createRequested(), placed()],
  /** Defined on the host (state stopped) while create still waits for its start step. */
  createStarting: [createRequested(), placed(), defined()],
  runningBare: [createRequested(), placed(), defined(), started(CREATE)],
  get running(): VmEvent[] {
    return [...H.runningBare, snapshotRequested('op-snap', 'base', false), snapshotTaken('op-snap', 'base', false)];
  },
  get stopped(): VmEvent[] {
    return [...H.running, stopRequested('op-stop'), stoppedEv('op-stop')];
  },
  get paused(): VmEvent[] {
    return [...H.running, pauseRequested('op-pause'), pausedEv('op-pause')];
  },
  get runningBusy(): VmEvent[] {
    return [...H.running, stopRequested('op-busy')];
  },
  get migrating(): VmEvent[] {
    return [...H.running, migrationRequested('op-migrate', HOST_A, HOST_B, true)];
  },
  get deleting(): VmEvent[] {
    return [...H.stopped, deleteRequested('op-delete')];
  },
  get deleted(): VmEvent[] {
    return [...H.deleting, deletedEv('op-delete')];
  },
  failedUnplaced: [createRequested(), operationFailed(CREATE, 'create', 'placement', 'no host has room', 'failed')],
  /** Failed after the hand-off of a live migration: on a host, with snapshot "base". */
  get failedOnHost(): VmEvent[] {
    return [
      ...H.migrating,
      targetPrepared('op-migrate', HOST_B),
      handedOff('op-migrate', HOST_B),
      operationFailed('op-migrate', 'migrate', 'finishIncoming', 'target lost the VM', 'failed'),
    ];
  },
} satisfies Record<string, VmEvent[]>;

export const vm = (history: VmEvent[]) => given(vmDecider, history);
export const stateOf = (history: VmEvent[]) => fold(vmDecider, history);
