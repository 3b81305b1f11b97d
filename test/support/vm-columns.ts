import type { VmCommand } from '../../src/domain/vm/vm.commands.js';
import type { VmEvent } from '../../src/domain/vm/vm.events.js';
import type { VmStateName } from '../../src/domain/vm/vm.types.js';
import {
  ALL,
  HOST_A,
  HOST_B,
  NEW,
  SPEC,
  VM_ID,
  createRequested,
  deleteRequested,
  migrationRequested,
  pauseRequested,
  snapshotRequested,
  startRequested,
  stopRequested,
} from './vm-histories.js';

/** Every user command as a column of the VM decider's state × command table (vm.decider.table.spec.ts). */
export const COLUMN_NAMES = [
  'CreateVm',
  'StartVm',
  'StopVm',
  'RebootVm',
  'PauseVm',
  'ResumeVm',
  'TakeSnapshot (disk)',
  'TakeSnapshot (memory)',
  'RevertSnapshot',
  'DeleteSnapshot',
  'MigrateVm (live)',
  'MigrateVm (cold)',
  'DeleteVm',
] as const;
export type ColumnName = (typeof COLUMN_NAMES)[number];

export interface Column {
  command: VmCommand;
  /** The events when the command is accepted (on host A, with snapshot "base"). */
  accepted: VmEvent[];
  /** The refusal of an illegal transition from `state`. */
  illegal: (state: VmStateName) => { message: RegExp; details?: Record<string, unknown> };
}

export const cannot =
  (verb: string) =>
  (state: VmStateName): { message: RegExp; details: Record<string, unknown> } => ({
    message: new RegExp(`^cannot ${verb} a VM that is ${state} \\(allowed from: [a-z, ]+\\)$`),
    details: { state },
  });

export const migrateTo = (live: boolean, targetHostId = HOST_B, operationId = NEW): VmCommand => ({
  type: 'MigrateVm',
  operationId,
  targetHostId,
  live,
  source: { driver: 'qemu', capabilities: ALL },
  target: { driver: 'qemu', capabilities: ALL },
});

export const COLUMNS: Record<ColumnName, Column> = {
  CreateVm: {
    command: { type: 'CreateVm', vmId: VM_ID, operationId: NEW, spec: SPEC, hostId: null, start: true },
    accepted: [createRequested({ operationId: NEW })],
    illegal: () => ({ message: /^VM vm-1 already exists$/ }),
  },
  StartVm: {
    command: { type: 'StartVm', operationId: NEW },
    accepted: [startRequested(NEW)],
    illegal: cannot('start'),
  },
  StopVm: {
    command: { type: 'StopVm', operationId: NEW, force: false },
    accepted: [stopRequested(NEW)],
    illegal: cannot('stop'),
  },
  RebootVm: {
    command: { type: 'RebootVm', operationId: NEW, capabilities: ALL },
    accepted: [{ type: 'VmRebootRequested', data: { operationId: NEW } }],
    illegal: cannot('reboot'),
  },
  PauseVm: {
    command: { type: 'PauseVm', operationId: NEW, capabilities: ALL },
    accepted: [pauseRequested(NEW)],
    illegal: cannot('pause'),
  },
  ResumeVm: {
    command: { type: 'ResumeVm', operationId: NEW, capabilities: ALL },
    accepted: [{ type: 'VmResumeRequested', data: { operationId: NEW } }],
    illegal: cannot('resume'),
  },
  'TakeSnapshot (disk)': {
    command: { type: 'TakeSnapshot', operationId: NEW, name: 'fresh', memory: false, capabilities: ALL },
    accepted: [snapshotRequested(NEW, 'fresh', false)],
    illegal: cannot('snapshot'),
  },
  'TakeSnapshot (memory)': {
    command: { type: 'TakeSnapshot', operationId: NEW, name: 'fresh', memory: true, capabilities: ALL },
    accepted: [snapshotRequested(NEW, 'fresh', true)],
    illegal: (state) =>
      state === 'stopped'
        ? { message: /^a memory snapshot needs a running or paused VM; ask for memory: false$/ }
        : cannot('snapshot')(state),
  },
  RevertSnapshot: {
    command: { type: 'RevertSnapshot', operationId: NEW, name: 'base' },
    accepted: [{ type: 'VmSnapshotRevertRequested', data: { operationId: NEW, name: 'base' } }],
    illegal: cannot('revert'),
  },
  DeleteSnapshot: {
    command: { type: 'DeleteSnapshot', operationId: NEW, name: 'base' },
    accepted: [{ type: 'VmSnapshotDeleteRequested', data: { operationId: NEW, name: 'base' } }],
    illegal: cannot('delete a snapshot of'),
  },
  'MigrateVm (live)': {
    command: migrateTo(true),
    accepted: [migrationRequested(NEW, HOST_A, HOST_B, true)],
    illegal: (state) =>
      state === 'stopped' ? { message: /^live migration needs a running VM$/ } : cannot('migrate')(state),
  },
  'MigrateVm (cold)': {
    command: migrateTo(false),
    accepted: [migrationRequested(NEW, HOST_A, HOST_B, false)],
    illegal: (state) =>
      state === 'running' ? { message: /^cold migration needs a stopped VM: stop it first/ } : cannot('migrate')(state),
  },
  DeleteVm: {
    command: { type: 'DeleteVm', operationId: NEW },
    accepted: [deleteRequested(NEW)],
    illegal: cannot('delete'),
  },
};
