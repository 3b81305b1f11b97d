import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fold } from '../decider.js';
import { given } from '../../../test/support/decider-spec.js';
import type { ObservedState, StepOutput, VmCommand, VmCommandType } from './vm.commands.js';
import { vmDecider } from './vm.decider.js';
import type { VmEvent } from './vm.events.js';
import {
  VM_STATES,
  type CapabilityView,
  type JobStep,
  type OperationKind,
  type VmSpecData,
  type VmStateName,
} from './vm.types.js';

// ---------------------------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------------------------

const VM_ID = 'vm-1';
const HOST_A = 'host-a';
const HOST_B = 'host-b';
const AT = '2030-01-02T03:04:05.000Z';
const SPEC: VmSpecData = { name: 'web-1', vcpus: 2, memoryMiB: 2048, diskGiB: 20 };
const ALL: CapabilityView = {
  liveMigration: true,
  coldMigration: true,
  memorySnapshots: true,
  diskSnapshots: true,
  pause: true,
  reboot: true,
};
const without = (...missing: (keyof CapabilityView)[]): CapabilityView => {
  const caps = { ...ALL };
  for (const k of missing) caps[k] = false;
  return caps;
};

const CREATE = 'op-create';
const NEW = 'op-new';
const ENDPOINT = { host: '127.0.0.1', port: 4444, tls: false };

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const busyMessage = (id: string, kind: OperationKind): RegExp =>
  new RegExp(`busy with operation ${escape(id)} \\(${kind}\\)`);

// Event builders: the literal shapes of the log.
const createRequested = (o: { start?: boolean; hostId?: string | null; operationId?: string } = {}): VmEvent => ({
  type: 'VmCreateRequested',
  data: {
    vmId: VM_ID,
    operationId: o.operationId ?? CREATE,
    spec: SPEC,
    requestedHostId: o.hostId ?? null,
    start: o.start ?? true,
  },
});
const placed = (hostId = HOST_A): VmEvent => ({ type: 'VmPlaced', data: { operationId: CREATE, hostId } });
const defined = (hostId = HOST_A): VmEvent => ({ type: 'VmDefined', data: { operationId: CREATE, hostId } });
const startRequested = (operationId: string): VmEvent => ({ type: 'VmStartRequested', data: { operationId } });
const started = (operationId: string): VmEvent => ({ type: 'VmStarted', data: { operationId } });
const stopRequested = (operationId: string, force = false): VmEvent => ({
  type: 'VmStopRequested',
  data: { operationId, force },
});
const stoppedEv = (operationId: string): VmEvent => ({ type: 'VmStopped', data: { operationId } });
const pauseRequested = (operationId: string): VmEvent => ({ type: 'VmPauseRequested', data: { operationId } });
const pausedEv = (operationId: string): VmEvent => ({ type: 'VmPaused', data: { operationId } });
const snapshotRequested = (operationId: string, name: string, memory: boolean): VmEvent => ({
  type: 'VmSnapshotRequested',
  data: { operationId, name, memory },
});
const snapshotTaken = (operationId: string, name: string, memory: boolean, createdAt = AT): VmEvent => ({
  type: 'VmSnapshotTaken',
  data: { operationId, name, memory, createdAt },
});
const migrationRequested = (operationId: string, from: string, to: string, live: boolean): VmEvent => ({
  type: 'VmMigrationRequested',
  data: { operationId, sourceHostId: from, targetHostId: to, live },
});
const targetPrepared = (operationId: string, to: string): VmEvent => ({
  type: 'VmMigrationTargetPrepared',
  data: { operationId, targetHostId: to, endpoint: ENDPOINT },
});
const handedOff = (operationId: string, to: string): VmEvent => ({
  type: 'VmMigrationHandedOff',
  data: { operationId, targetHostId: to },
});
const migrated = (operationId: string, from: string, to: string): VmEvent => ({
  type: 'VmMigrated',
  data: { operationId, sourceHostId: from, targetHostId: to },
});
const deleteRequested = (operationId: string): VmEvent => ({ type: 'VmDeleteRequested', data: { operationId } });
const deletedEv = (operationId: string): VmEvent => ({ type: 'VmDeleted', data: { operationId } });
const operationFailed = (
  operationId: string,
  kind: OperationKind,
  step: JobStep | 'placement',
  reason: string,
  state: VmStateName,
): VmEvent => ({ type: 'VmOperationFailed', data: { operationId, kind, step, reason, state } });

// Histories, one per reachable state (and the busy variants). Every idle VM on a host carries snapshot "base".
const H = {
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

const vm = (history: VmEvent[]) => given(vmDecider, history);
const stateOf = (history: VmEvent[]) => fold(vmDecider, history);

// ---------------------------------------------------------------------------------------------------------------
// The whole table: every reachable state × every user command
// ---------------------------------------------------------------------------------------------------------------

const COLUMN_NAMES = [
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
type ColumnName = (typeof COLUMN_NAMES)[number];

interface Column {
  command: VmCommand;
  /** The events when the command is accepted (on host A, with snapshot "base"). */
  accepted: VmEvent[];
  /** The refusal of an illegal transition from `state`. */
  illegal: (state: VmStateName) => { message: RegExp; details?: Record<string, unknown> };
}

const cannot =
  (verb: string) =>
  (state: VmStateName): { message: RegExp; details: Record<string, unknown> } => ({
    message: new RegExp(`^cannot ${verb} a VM that is ${state} \\(allowed from: [a-z, ]+\\)$`),
    details: { state },
  });

const migrateTo = (live: boolean, targetHostId = HOST_B, operationId = NEW): VmCommand => ({
  type: 'MigrateVm',
  operationId,
  targetHostId,
  live,
  source: { driver: 'qemu', capabilities: ALL },
  target: { driver: 'qemu', capabilities: ALL },
});

const COLUMNS: Record<ColumnName, Column> = {
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

/**
 * ok: accepted (the column's events) · no: illegal transition (409 conflict) · busy: another operation is in
 * flight (409 conflict naming it) · nf: not_found · dup: create of an existing id (409 conflict)
 * · ok-no-host: delete shortcut (nothing was ever placed) · ok-cancel: delete cancels a create awaiting placement
 */
type Cell = 'ok' | 'no' | 'busy' | 'nf' | 'dup' | 'ok-no-host' | 'ok-cancel';

interface Row {
  history: VmEvent[];
  /** The state the history folds to ('none': never created). */
  state: VmStateName | 'none';
  busy?: { id: string; kind: OperationKind };
  cells: Cell[];
}

const B = 'busy' as const;
// prettier-ignore
const ROWS: Record<string, Row> = {
  //                                                        Create Start Stop  Reboot Pause Resume SnapD SnapM Revert DelSn Live  Cold  Delete
  'never created':            { history: [], state: 'none', cells: ['ok', 'nf', 'nf', 'nf', 'nf', 'nf', 'nf', 'nf', 'nf', 'nf', 'nf', 'nf', 'nf'] },
  'requested':                { history: H.requested, state: 'requested', busy: { id: CREATE, kind: 'create' },
                                cells: ['dup', B, B, B, B, B, B, B, B, B, B, B, 'ok-cancel'] },
  'provisioning':             { history: H.provisioning, state: 'provisioning', busy: { id: CREATE, kind: 'create' },
                                cells: ['dup', B, B, B, B, B, B, B, B, B, B, B, B] },
  'stopped, create starting': { history: H.createStarting, state: 'stopped', busy: { id: CREATE, kind: 'create' },
                                cells: ['dup', B, B, B, B, B, B, B, B, B, B, B, B] },
  'stopped':                  { history: H.stopped, state: 'stopped',
                                cells: ['dup', 'ok', 'no', 'no', 'no', 'no', 'ok', 'no', 'ok', 'ok', 'no', 'ok', 'ok'] },
  'running':                  { history: H.running, state: 'running',
                                cells: ['dup', 'no', 'ok', 'ok', 'ok', 'no', 'ok', 'ok', 'ok', 'ok', 'ok', 'no', 'ok'] },
  'paused':                   { history: H.paused, state: 'paused',
                                cells: ['dup', 'no', 'ok', 'no', 'no', 'ok', 'ok', 'ok', 'ok', 'ok', 'no', 'no', 'ok'] },
  'running, stop pending':    { history: H.runningBusy, state: 'running', busy: { id: 'op-busy', kind: 'stop' },
                                cells: ['dup', B, B, B, B, B, B, B, B, B, B, B, B] },
  'migrating':                { history: H.migrating, state: 'migrating', busy: { id: 'op-migrate', kind: 'migrate' },
                                cells: ['dup', B, B, B, B, B, B, B, B, B, B, B, B] },
  'deleting':                 { history: H.deleting, state: 'deleting', busy: { id: 'op-delete', kind: 'delete' },
                                cells: ['dup', B, B, B, B, B, B, B, B, B, B, B, B] },
  'deleted':                  { history: H.deleted, state: 'deleted',
                                cells: ['dup', 'nf', 'nf', 'nf', 'nf', 'nf', 'nf', 'nf', 'nf', 'nf', 'nf', 'nf', 'nf'] },
  'failed, never placed':     { history: H.failedUnplaced, state: 'failed',
                                cells: ['dup', 'no', 'no', 'no', 'no', 'no', 'no', 'no', 'no', 'no', 'no', 'no', 'ok-no-host'] },
  'failed, on a host':        { history: H.failedOnHost, state: 'failed',
                                cells: ['dup', 'no', 'no', 'no', 'no', 'no', 'no', 'no', 'no', 'no', 'no', 'no', 'ok'] },
};

/** Which describe below covers each command type: a new command type fails to compile until it is placed here. */
const COVERED_BY: Record<VmCommandType, string> = {
  CreateVm: 'state × command table; create',
  PlaceVm: 'create',
  FailPlacement: 'create',
  StartVm: 'state × command table; operations',
  StopVm: 'state × command table; operations',
  RebootVm: 'state × command table; operations; capabilities',
  PauseVm: 'state × command table; operations; capabilities',
  ResumeVm: 'state × command table; operations; capabilities',
  TakeSnapshot: 'state × command table; operations; snapshots; capabilities',
  RevertSnapshot: 'state × command table; operations; snapshots',
  DeleteSnapshot: 'state × command table; operations; snapshots',
  MigrateVm: 'state × command table; migration; capabilities',
  DeleteVm: 'state × command table; operations; delete',
  MarkOperationRunning: 'operations; create',
  RecordStepSucceeded: 'operations; create; migration; results',
  RecordStepFailed: 'operations; create; migration; results',
  RecordMigrationProgress: 'migration progress',
  ReportObservedState: 'observed state',
};

describe('VM decider: state × command table', () => {
  test('the table has a row for every VM state, and every row folds to the state it claims', () => {
    const covered = new Set<string>();
    for (const [name, row] of Object.entries(ROWS)) {
      const s = stateOf(row.history);
      assert.equal(s.exists ? s.state : 'none', row.state, name);
      assert.deepEqual(s.pending ? { id: s.pending.id, kind: s.pending.kind } : undefined, row.busy, name);
      assert.equal(row.cells.length, COLUMN_NAMES.length, `${name}: one cell per command`);
      covered.add(row.state);
    }
    for (const state of VM_STATES) assert.ok(covered.has(state), `no row reaches ${state}`);
    assert.deepEqual(Object.keys(COLUMNS), [...COLUMN_NAMES]);
    assert.ok(Object.keys(COVERED_BY).length > 0);
  });

  for (const [rowName, row] of Object.entries(ROWS)) {
    describe(`from ${rowName}`, () => {
      COLUMN_NAMES.forEach((columnName, i) => {
        const column = COLUMNS[columnName];
        const cell = row.cells[i];
        test(`${columnName} → ${cell}`, () => {
          const when = vm(row.history).when(column.command);
          switch (cell) {
            case 'ok':
              when.then(column.accepted);
              return;
            case 'ok-no-host':
              when.then([deleteRequested(NEW), deletedEv(NEW)]);
              return;
            case 'ok-cancel':
              when.then([
                operationFailed(
                  CREATE,
                  'create',
                  'placement',
                  `cancelled: the VM was deleted by operation ${NEW}`,
                  'failed',
                ),
                deleteRequested(NEW),
                deletedEv(NEW),
              ]);
              return;
            case 'nf':
              when.thenThrows('not_found', row.state === 'deleted' ? /^VM vm-1 was deleted$/ : /^VM not found$/);
              return;
            case 'dup':
              when.thenThrows('conflict', /^VM vm-1 already exists$/);
              return;
            case 'busy': {
              assert.ok(row.busy, 'a busy cell needs a pending operation');
              const err = when.thenThrows('conflict', busyMessage(row.busy.id, row.busy.kind));
              assert.deepEqual(err.details, { operationId: row.busy.id, kind: row.busy.kind });
              return;
            }
            case 'no': {
              assert.notEqual(row.state, 'none');
              const expected = column.illegal(row.state as VmStateName);
              const err = when.thenThrows('conflict', expected.message);
              if (expected.details) assert.deepEqual(err.details, expected.details);
              return;
            }
            default:
              assert.fail(`no expectation for cell ${String(cell)}`);
          }
        });
      });
    });
  }
});

// ---------------------------------------------------------------------------------------------------------------
// Create: placement → define → start
// ---------------------------------------------------------------------------------------------------------------

describe('VM decider: create', () => {
  const succeeded = (operationId: string, step: JobStep, output: StepOutput = {}): VmCommand => ({
    type: 'RecordStepSucceeded',
    operationId,
    step,
    output,
    at: AT,
  });
  const stepFailed = (operationId: string, step: JobStep, reason = 'boom'): VmCommand => ({
    type: 'RecordStepFailed',
    operationId,
    step,
    reason,
  });

  test('without hostId: requested, waiting for placement, start defaults through', () => {
    const s = vm([])
      .when({ type: 'CreateVm', vmId: VM_ID, operationId: CREATE, spec: SPEC, hostId: null, start: true })
      .then([createRequested()]);
    assert.equal(s.exists, true);
    assert.equal(s.id, VM_ID);
    assert.deepEqual(s.spec, SPEC);
    assert.equal(s.state, 'requested');
    assert.equal(s.hostId, null);
    assert.equal(s.startAfterCreate, true);
    assert.deepEqual(s.pending, {
      id: CREATE,
      kind: 'create',
      awaiting: 'placement',
      running: false,
      stateBefore: 'requested',
    });
  });

  test('with hostId and start false: the requested host is recorded, the VM will stay stopped', () => {
    const s = vm([])
      .when({ type: 'CreateVm', vmId: VM_ID, operationId: CREATE, spec: SPEC, hostId: HOST_A, start: false })
      .then([createRequested({ hostId: HOST_A, start: false })]);
    assert.equal(s.startAfterCreate, false);
    assert.equal(s.hostId, null, 'a requested host is not a placement');
  });

  test('PlaceVm: provisioning on the host, waiting for define', () => {
    const s = vm(H.requested).when({ type: 'PlaceVm', operationId: CREATE, hostId: HOST_A }).then([placed()]);
    assert.equal(s.state, 'provisioning');
    assert.equal(s.hostId, HOST_A);
    assert.equal(s.pending?.awaiting, 'define');
  });

  test('PlaceVm twice, for another operation, or after a failed placement → already_recorded', () => {
    vm(H.provisioning).when({ type: 'PlaceVm', operationId: CREATE, hostId: HOST_B }).thenThrows('already_recorded');
    vm(H.requested).when({ type: 'PlaceVm', operationId: 'op-other', hostId: HOST_A }).thenThrows('already_recorded');
    vm(H.failedUnplaced).when({ type: 'PlaceVm', operationId: CREATE, hostId: HOST_A }).thenThrows('already_recorded');
    vm([]).when({ type: 'PlaceVm', operationId: CREATE, hostId: HOST_A }).thenThrows('already_recorded');
  });

  test('FailPlacement: the create fails, the VM is failed with no host', () => {
    const s = vm(H.requested)
      .when({ type: 'FailPlacement', operationId: CREATE, reason: 'no host has room' })
      .then([operationFailed(CREATE, 'create', 'placement', 'no host has room', 'failed')]);
    assert.equal(s.state, 'failed');
    assert.equal(s.hostId, null);
    assert.equal(s.pending, null);
  });

  test('FailPlacement after placement, twice, or for another operation → already_recorded', () => {
    vm(H.provisioning).when({ type: 'FailPlacement', operationId: CREATE, reason: 'x' }).thenThrows('already_recorded');
    vm(H.failedUnplaced)
      .when({ type: 'FailPlacement', operationId: CREATE, reason: 'x' })
      .thenThrows('already_recorded');
    vm(H.requested).when({ type: 'FailPlacement', operationId: 'op-x', reason: 'x' }).thenThrows('already_recorded');
  });

  test('define succeeded: stopped on the host, create now waits for start', () => {
    const s = vm(H.provisioning).when(succeeded(CREATE, 'define')).then([defined()]);
    assert.equal(s.state, 'stopped');
    assert.equal(s.pending?.id, CREATE);
    assert.equal(s.pending?.awaiting, 'start');
  });

  test('start succeeded: running, create done', () => {
    const s = vm(H.createStarting)
      .when(succeeded(CREATE, 'start'))
      .then([started(CREATE)]);
    assert.equal(s.state, 'running');
    assert.equal(s.hostId, HOST_A);
    assert.equal(s.pending, null);
  });

  test('start false: define finishes the create; the VM stays stopped and can be started later', () => {
    const history = [createRequested({ start: false, hostId: HOST_A }), placed()];
    const s = vm(history).when(succeeded(CREATE, 'define')).then([defined()]);
    assert.equal(s.state, 'stopped');
    assert.equal(s.pending, null);
    const after = [...history, defined()];
    vm(after).when(succeeded(CREATE, 'start')).thenThrows('already_recorded');
    vm(after)
      .when({ type: 'StartVm', operationId: NEW })
      .then([startRequested(NEW)]);
  });

  test('results out of order or repeated → already_recorded', () => {
    vm(H.requested)
      .when(succeeded(CREATE, 'define'))
      .thenThrows('already_recorded', /no define result is awaited/);
    vm(H.provisioning).when(succeeded(CREATE, 'start')).thenThrows('already_recorded');
    vm(H.createStarting).when(succeeded(CREATE, 'define')).thenThrows('already_recorded');
    vm(H.runningBare).when(succeeded(CREATE, 'start')).thenThrows('already_recorded');
    vm(H.runningBare).when(stepFailed(CREATE, 'start')).thenThrows('already_recorded');
    vm([]).when(succeeded(CREATE, 'define')).thenThrows('already_recorded');
  });

  test('define failed → failed (on its host)', () => {
    const s = vm(H.provisioning)
      .when(stepFailed(CREATE, 'define', 'disk image missing'))
      .then([operationFailed(CREATE, 'create', 'define', 'disk image missing', 'failed')]);
    assert.equal(s.state, 'failed');
    assert.equal(s.hostId, HOST_A);
    assert.equal(s.pending, null);
    vm([...H.provisioning, operationFailed(CREATE, 'create', 'define', 'x', 'failed')])
      .when(succeeded(CREATE, 'define'))
      .thenThrows('already_recorded');
  });

  test('start failed during create → failed', () => {
    const s = vm(H.createStarting)
      .when(stepFailed(CREATE, 'start', 'no memory'))
      .then([operationFailed(CREATE, 'create', 'start', 'no memory', 'failed')]);
    assert.equal(s.state, 'failed');
  });

  test('MarkOperationRunning once for the whole create', () => {
    const s = vm(H.provisioning)
      .when({ type: 'MarkOperationRunning', operationId: CREATE, step: 'define' })
      .then([{ type: 'VmOperationRunning', data: { operationId: CREATE, step: 'define' } }]);
    assert.equal(s.pending?.running, true);
    const marked: VmEvent[] = [
      ...H.provisioning,
      { type: 'VmOperationRunning', data: { operationId: CREATE, step: 'define' } },
    ];
    vm(marked).when({ type: 'MarkOperationRunning', operationId: CREATE, step: 'define' }).thenNothing();
    const s2 = stateOf([...marked, defined()]);
    assert.equal(s2.pending?.running, true, 'still running while waiting for start');
    vm([...marked, defined()])
      .when({ type: 'MarkOperationRunning', operationId: CREATE, step: 'start' })
      .thenNothing();
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Operations: request → running → one result, for every lifecycle verb
// ---------------------------------------------------------------------------------------------------------------

interface Flow {
  name: string;
  history: VmEvent[];
  request: VmCommand;
  requested: VmEvent[];
  kind: OperationKind;
  step: JobStep;
  output?: StepOutput;
  succeeded: VmEvent;
  /** State while the operation is pending, after success, after failure. */
  during: VmStateName;
  after: VmStateName;
  afterFailure: VmStateName;
}

const FLOWS: Flow[] = [
  {
    name: 'start from stopped',
    history: H.stopped,
    request: { type: 'StartVm', operationId: NEW },
    requested: [startRequested(NEW)],
    kind: 'start',
    step: 'start',
    succeeded: started(NEW),
    during: 'stopped',
    after: 'running',
    afterFailure: 'stopped',
  },
  {
    name: 'stop from running',
    history: H.running,
    request: { type: 'StopVm', operationId: NEW, force: false },
    requested: [stopRequested(NEW)],
    kind: 'stop',
    step: 'stop',
    succeeded: stoppedEv(NEW),
    during: 'running',
    after: 'stopped',
    afterFailure: 'running',
  },
  {
    name: 'forced stop with a timeout from paused',
    history: H.paused,
    request: { type: 'StopVm', operationId: NEW, force: true, timeoutMs: 5000 },
    requested: [{ type: 'VmStopRequested', data: { operationId: NEW, force: true, timeoutMs: 5000 } }],
    kind: 'stop',
    step: 'stop',
    succeeded: stoppedEv(NEW),
    during: 'paused',
    after: 'stopped',
    afterFailure: 'paused',
  },
  {
    name: 'reboot from running',
    history: H.running,
    request: { type: 'RebootVm', operationId: NEW, capabilities: ALL },
    requested: [{ type: 'VmRebootRequested', data: { operationId: NEW } }],
    kind: 'reboot',
    step: 'reboot',
    succeeded: { type: 'VmRebooted', data: { operationId: NEW } },
    during: 'running',
    after: 'running',
    afterFailure: 'running',
  },
  {
    name: 'pause from running',
    history: H.running,
    request: { type: 'PauseVm', operationId: NEW, capabilities: ALL },
    requested: [pauseRequested(NEW)],
    kind: 'pause',
    step: 'pause',
    succeeded: pausedEv(NEW),
    during: 'running',
    after: 'paused',
    afterFailure: 'running',
  },
  {
    name: 'resume from paused',
    history: H.paused,
    request: { type: 'ResumeVm', operationId: NEW, capabilities: ALL },
    requested: [{ type: 'VmResumeRequested', data: { operationId: NEW } }],
    kind: 'resume',
    step: 'resume',
    succeeded: { type: 'VmResumed', data: { operationId: NEW } },
    during: 'paused',
    after: 'running',
    afterFailure: 'paused',
  },
  {
    name: 'disk snapshot of a stopped VM',
    history: H.stopped,
    request: { type: 'TakeSnapshot', operationId: NEW, name: 'nightly', memory: false, capabilities: ALL },
    requested: [snapshotRequested(NEW, 'nightly', false)],
    kind: 'snapshot',
    step: 'snapshot',
    succeeded: snapshotTaken(NEW, 'nightly', false),
    during: 'stopped',
    after: 'stopped',
    afterFailure: 'stopped',
  },
  {
    name: 'memory snapshot of a running VM',
    history: H.running,
    request: { type: 'TakeSnapshot', operationId: NEW, name: 'live', memory: true, capabilities: ALL },
    requested: [snapshotRequested(NEW, 'live', true)],
    kind: 'snapshot',
    step: 'snapshot',
    succeeded: snapshotTaken(NEW, 'live', true),
    during: 'running',
    after: 'running',
    afterFailure: 'running',
  },
  {
    name: 'memory snapshot of a paused VM',
    history: H.paused,
    request: { type: 'TakeSnapshot', operationId: NEW, name: 'frozen', memory: true, capabilities: ALL },
    requested: [snapshotRequested(NEW, 'frozen', true)],
    kind: 'snapshot',
    step: 'snapshot',
    succeeded: snapshotTaken(NEW, 'frozen', true),
    during: 'paused',
    after: 'paused',
    afterFailure: 'paused',
  },
  {
    name: 'revert of a stopped VM to a snapshot that leaves it running',
    history: H.stopped,
    request: { type: 'RevertSnapshot', operationId: NEW, name: 'base' },
    requested: [{ type: 'VmSnapshotRevertRequested', data: { operationId: NEW, name: 'base' } }],
    kind: 'revert',
    step: 'revert',
    output: { state: 'running' },
    succeeded: { type: 'VmSnapshotReverted', data: { operationId: NEW, name: 'base', state: 'running' } },
    during: 'stopped',
    after: 'running',
    afterFailure: 'stopped',
  },
  {
    name: 'revert of a running VM to a snapshot that leaves it paused',
    history: H.running,
    request: { type: 'RevertSnapshot', operationId: NEW, name: 'base' },
    requested: [{ type: 'VmSnapshotRevertRequested', data: { operationId: NEW, name: 'base' } }],
    kind: 'revert',
    step: 'revert',
    output: { state: 'paused' },
    succeeded: { type: 'VmSnapshotReverted', data: { operationId: NEW, name: 'base', state: 'paused' } },
    during: 'running',
    after: 'paused',
    afterFailure: 'running',
  },
  {
    name: 'snapshot delete on a paused VM',
    history: H.paused,
    request: { type: 'DeleteSnapshot', operationId: NEW, name: 'base' },
    requested: [{ type: 'VmSnapshotDeleteRequested', data: { operationId: NEW, name: 'base' } }],
    kind: 'deleteSnapshot',
    step: 'deleteSnapshot',
    succeeded: { type: 'VmSnapshotDeleted', data: { operationId: NEW, name: 'base' } },
    during: 'paused',
    after: 'paused',
    afterFailure: 'paused',
  },
  ...(
    [
      ['stopped', H.stopped],
      ['running', H.running],
      ['paused', H.paused],
      ['failed', H.failedOnHost],
    ] as const
  ).map(([from, history]): Flow => ({
    name: `delete from ${from} (on a host)`,
    history,
    request: { type: 'DeleteVm', operationId: NEW },
    requested: [deleteRequested(NEW)],
    kind: 'delete',
    step: 'destroy',
    succeeded: deletedEv(NEW),
    during: 'deleting',
    after: 'deleted',
    afterFailure: from,
  })),
];

describe('VM decider: operations', () => {
  const succeeded = (flow: Flow, operationId = NEW, step = flow.step): VmCommand => ({
    type: 'RecordStepSucceeded',
    operationId,
    step,
    output: flow.output ?? {},
    at: AT,
  });
  const failedCmd = (flow: Flow, operationId = NEW, step = flow.step): VmCommand => ({
    type: 'RecordStepFailed',
    operationId,
    step,
    reason: 'driver said no',
  });
  const otherStep = (step: JobStep): JobStep => (step === 'start' ? 'stop' : 'start');

  for (const flow of FLOWS) {
    describe(flow.name, () => {
      const pending = [...flow.history, ...flow.requested];

      test('accepted: one request event opens a pending operation', () => {
        const before = stateOf(flow.history);
        const s = vm(flow.history).when(flow.request).then(flow.requested);
        assert.equal(s.state, flow.during);
        assert.equal(s.pending?.id, NEW);
        assert.equal(s.pending?.kind, flow.kind);
        assert.equal(s.pending?.awaiting, flow.step);
        assert.equal(s.pending?.running, false);
        assert.equal(s.pending?.stateBefore, before.state);
      });

      test('one operation at a time: every command while it is pending → conflict naming it', () => {
        for (const name of COLUMN_NAMES) {
          if (name === 'CreateVm') continue;
          const err = vm(pending).when(COLUMNS[name].command).thenThrows('conflict', busyMessage(NEW, flow.kind));
          assert.deepEqual(err.details, { operationId: NEW, kind: flow.kind }, name);
        }
        vm(pending)
          .when(COLUMNS.CreateVm.command)
          .thenThrows('conflict', /already exists/);
      });

      test('MarkOperationRunning once only', () => {
        const running: VmEvent = { type: 'VmOperationRunning', data: { operationId: NEW, step: flow.step } };
        const s = vm(pending).when({ type: 'MarkOperationRunning', operationId: NEW, step: flow.step }).then([running]);
        assert.equal(s.pending?.running, true);
        vm([...pending, running])
          .when({ type: 'MarkOperationRunning', operationId: NEW, step: flow.step })
          .thenNothing();
        vm(pending).when({ type: 'MarkOperationRunning', operationId: 'op-other', step: flow.step }).thenNothing();
        vm(flow.history).when({ type: 'MarkOperationRunning', operationId: NEW, step: flow.step }).thenNothing();
      });

      test(`succeeded → ${flow.succeeded.type}, ${flow.after}, nothing pending`, () => {
        const before = stateOf(flow.history);
        const s = vm(pending).when(succeeded(flow)).then([flow.succeeded]);
        assert.equal(s.state, flow.after);
        assert.equal(s.pending, null);
        assert.equal(s.hostId, before.hostId);
      });

      test(`failed → VmOperationFailed, back to ${flow.afterFailure}`, () => {
        const before = stateOf(flow.history);
        const s = vm(pending)
          .when(failedCmd(flow))
          .then([operationFailed(NEW, flow.kind, flow.step, 'driver said no', flow.afterFailure)]);
        assert.equal(s.state, flow.afterFailure);
        assert.equal(s.pending, null);
        assert.deepEqual(s.snapshots, before.snapshots);
        assert.equal(s.hostId, before.hostId);
      });

      test('a result is accepted once: a second success or failure → already_recorded', () => {
        const done = [...pending, flow.succeeded];
        vm(done)
          .when(succeeded(flow))
          .thenThrows('already_recorded', new RegExp(`operation ${NEW}`));
        vm(done).when(failedCmd(flow)).thenThrows('already_recorded');
        const failed = [...pending, operationFailed(NEW, flow.kind, flow.step, 'x', flow.afterFailure)];
        vm(failed).when(succeeded(flow)).thenThrows('already_recorded');
        vm(failed).when(failedCmd(flow)).thenThrows('already_recorded');
      });

      test('a result for another operation or another step → already_recorded', () => {
        vm(pending).when(succeeded(flow, 'op-other')).thenThrows('already_recorded');
        vm(pending).when(failedCmd(flow, 'op-other')).thenThrows('already_recorded');
        vm(pending)
          .when(succeeded(flow, NEW, otherStep(flow.step)))
          .thenThrows('already_recorded');
        vm(pending)
          .when(failedCmd(flow, NEW, otherStep(flow.step)))
          .thenThrows('already_recorded');
        vm(pending)
          .when(succeeded(flow, NEW, 'abortIncoming'))
          .thenThrows('already_recorded');
      });
    });
  }
});

// ---------------------------------------------------------------------------------------------------------------
// Snapshots
// ---------------------------------------------------------------------------------------------------------------

describe('VM decider: snapshots', () => {
  const take = (name: string, memory: boolean, capabilities = ALL): VmCommand => ({
    type: 'TakeSnapshot',
    operationId: NEW,
    name,
    memory,
    capabilities,
  });

  test('a taken snapshot joins the list with its memory flag and time', () => {
    assert.deepEqual(stateOf(H.running).snapshots, [{ name: 'base', memory: false, createdAt: AT }]);
    const later = '2030-02-01T00:00:00.000Z';
    const s = vm([...H.running, snapshotRequested(NEW, 'live', true)])
      .when({ type: 'RecordStepSucceeded', operationId: NEW, step: 'snapshot', output: {}, at: later })
      .then([snapshotTaken(NEW, 'live', true, later)]);
    assert.deepEqual(s.snapshots, [
      { name: 'base', memory: false, createdAt: AT },
      { name: 'live', memory: true, createdAt: later },
    ]);
  });

  test('name taken → conflict, whatever the memory flag', () => {
    vm(H.running)
      .when(take('base', false))
      .thenThrows('conflict', /^snapshot base already exists$/);
    vm(H.running)
      .when(take('base', true))
      .thenThrows('conflict', /^snapshot base already exists$/);
    vm(H.stopped)
      .when(take('base', false))
      .thenThrows('conflict', /^snapshot base already exists$/);
  });

  test('unknown name → not_found for revert and delete', () => {
    for (const history of [H.running, H.stopped, H.paused]) {
      vm(history)
        .when({ type: 'RevertSnapshot', operationId: NEW, name: 'nope' })
        .thenThrows('not_found', /^snapshot nope not found$/);
      vm(history)
        .when({ type: 'DeleteSnapshot', operationId: NEW, name: 'nope' })
        .thenThrows('not_found', /^snapshot nope not found$/);
    }
  });

  test('memory snapshot of a stopped VM → conflict', () => {
    vm(H.stopped)
      .when(take('mem', true))
      .thenThrows('conflict', /memory snapshot needs a running or paused VM/);
  });

  test('a pending snapshot is not in the list; a failed one never gets there', () => {
    const pending = [...H.running, snapshotRequested(NEW, 'live', true)];
    assert.deepEqual(
      stateOf(pending).snapshots.map((s) => s.name),
      ['base'],
    );
    const s = vm(pending)
      .when({ type: 'RecordStepFailed', operationId: NEW, step: 'snapshot', reason: 'disk full' })
      .then([operationFailed(NEW, 'snapshot', 'snapshot', 'disk full', 'running')]);
    assert.deepEqual(
      s.snapshots.map((x) => x.name),
      ['base'],
    );
  });

  test('delete removes it from the list and frees the name; revert keeps the list', () => {
    const deleteRequestedEv: VmEvent = { type: 'VmSnapshotDeleteRequested', data: { operationId: NEW, name: 'base' } };
    const pending = [...H.running, deleteRequestedEv];
    const s = vm(pending)
      .when({ type: 'RecordStepSucceeded', operationId: NEW, step: 'deleteSnapshot', output: {}, at: AT })
      .then([{ type: 'VmSnapshotDeleted', data: { operationId: NEW, name: 'base' } }]);
    assert.deepEqual(s.snapshots, []);
    const afterDelete: VmEvent[] = [
      ...pending,
      { type: 'VmSnapshotDeleted', data: { operationId: NEW, name: 'base' } },
    ];
    vm(afterDelete)
      .when(take('base', false))
      .then([snapshotRequested(NEW, 'base', false)]);
    vm(afterDelete)
      .when({ type: 'RevertSnapshot', operationId: 'op-2', name: 'base' })
      .thenThrows('not_found', /snapshot base not found/);

    const reverted = stateOf([
      ...H.running,
      { type: 'VmSnapshotRevertRequested', data: { operationId: NEW, name: 'base' } },
      { type: 'VmSnapshotReverted', data: { operationId: NEW, name: 'base', state: 'stopped' } },
    ]);
    assert.deepEqual(reverted.snapshots, [{ name: 'base', memory: false, createdAt: AT }]);
    assert.equal(reverted.state, 'stopped');
  });

  test('snapshots survive stop, pause and migration', () => {
    const names = (h: VmEvent[]) => stateOf(h).snapshots.map((s) => s.name);
    assert.deepEqual(names(H.stopped), ['base']);
    assert.deepEqual(names(H.paused), ['base']);
    assert.deepEqual(
      names([
        ...H.migrating,
        targetPrepared('op-migrate', HOST_B),
        handedOff('op-migrate', HOST_B),
        migrated('op-migrate', HOST_A, HOST_B),
      ]),
      ['base'],
    );
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Capabilities → unsupported (422)
// ---------------------------------------------------------------------------------------------------------------

describe('VM decider: capability refusals', () => {
  const migrate = (
    live: boolean,
    source: { driver: string; capabilities: CapabilityView },
    target: { driver: string; capabilities: CapabilityView },
  ): VmCommand => ({ type: 'MigrateVm', operationId: NEW, targetHostId: HOST_B, live, source, target });
  const qemu = (capabilities = ALL) => ({ driver: 'qemu', capabilities });

  test('pause', () => {
    vm(H.running)
      .when({ type: 'PauseVm', operationId: NEW, capabilities: without('pause') })
      .thenThrows('unsupported', /^the host's driver cannot pause$/);
  });

  test('resume (needs the pause capability)', () => {
    vm(H.paused)
      .when({ type: 'ResumeVm', operationId: NEW, capabilities: without('pause') })
      .thenThrows('unsupported', /cannot resume/);
  });

  test('reboot', () => {
    vm(H.running)
      .when({ type: 'RebootVm', operationId: NEW, capabilities: without('reboot') })
      .thenThrows('unsupported', /cannot reboot/);
  });

  test('memory snapshot (running and paused)', () => {
    for (const history of [H.running, H.paused]) {
      vm(history)
        .when({
          type: 'TakeSnapshot',
          operationId: NEW,
          name: 'm',
          memory: true,
          capabilities: without('memorySnapshots'),
        })
        .thenThrows('unsupported', /cannot take memory snapshots/);
    }
  });

  test('disk snapshot (any idle state)', () => {
    for (const history of [H.running, H.paused, H.stopped]) {
      vm(history)
        .when({
          type: 'TakeSnapshot',
          operationId: NEW,
          name: 'd',
          memory: false,
          capabilities: without('diskSnapshots'),
        })
        .thenThrows('unsupported', /cannot take disk snapshots/);
    }
  });

  test('a missing capability does not block the others', () => {
    vm(H.running)
      .when({
        type: 'TakeSnapshot',
        operationId: NEW,
        name: 'd',
        memory: false,
        capabilities: without('memorySnapshots'),
      })
      .then([snapshotRequested(NEW, 'd', false)]);
    vm(H.running)
      .when({ type: 'StopVm', operationId: NEW, force: true })
      .then([stopRequested(NEW, true)]);
  });

  test('live migration: either side without it', () => {
    vm(H.running)
      .when(migrate(true, qemu(without('liveMigration')), qemu()))
      .thenThrows('unsupported', /cannot live-migrate/);
    vm(H.running)
      .when(migrate(true, qemu(), qemu(without('liveMigration'))))
      .thenThrows('unsupported', /cannot live-migrate/);
    vm(H.running)
      .when(migrate(true, qemu(without('coldMigration')), qemu(without('coldMigration'))))
      .then([migrationRequested(NEW, HOST_A, HOST_B, true)]);
  });

  test('cold migration: either side without it', () => {
    vm(H.stopped)
      .when(migrate(false, qemu(without('coldMigration')), qemu()))
      .thenThrows('unsupported', /cannot cold-migrate/);
    vm(H.stopped)
      .when(migrate(false, qemu(), qemu(without('coldMigration'))))
      .thenThrows('unsupported', /cannot cold-migrate/);
    vm(H.stopped)
      .when(migrate(false, qemu(without('liveMigration')), qemu(without('liveMigration'))))
      .then([migrationRequested(NEW, HOST_A, HOST_B, false)]);
  });

  test('migration across driver kinds', () => {
    vm(H.running)
      .when(migrate(true, qemu(), { driver: 'libvirt', capabilities: ALL }))
      .thenThrows('unsupported', /^cannot migrate between a qemu host and a libvirt host$/);
    vm(H.stopped)
      .when(migrate(false, { driver: 'container', capabilities: ALL }, qemu()))
      .thenThrows('unsupported', /between a container host and a qemu host/);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Migration
// ---------------------------------------------------------------------------------------------------------------

describe('VM decider: migration', () => {
  const MIG = 'op-migrate';
  const ok = (step: JobStep, output: StepOutput = {}): VmCommand => ({
    type: 'RecordStepSucceeded',
    operationId: MIG,
    step,
    output,
    at: AT,
  });
  const fail = (step: JobStep): VmCommand => ({ type: 'RecordStepFailed', operationId: MIG, step, reason: 'net down' });

  const requestedLive = H.migrating; // running on A, live to B
  const prepared = [...requestedLive, targetPrepared(MIG, HOST_B)];
  const handed = [...prepared, handedOff(MIG, HOST_B)];

  test('live happy path: requested → target prepared → handed off → migrated on the target, running', () => {
    let s = vm(H.running)
      .when(migrateTo(true, HOST_B, MIG))
      .then([migrationRequested(MIG, HOST_A, HOST_B, true)]);
    assert.equal(s.state, 'migrating');
    assert.equal(s.hostId, HOST_A);
    assert.deepEqual(s.migration, {
      sourceHostId: HOST_A,
      targetHostId: HOST_B,
      live: true,
      endpoint: null,
      handedOff: false,
    });
    assert.equal(s.pending?.awaiting, 'prepareIncoming');

    s = vm(requestedLive)
      .when(ok('prepareIncoming', { endpoint: ENDPOINT }))
      .then([targetPrepared(MIG, HOST_B)]);
    assert.deepEqual(s.migration?.endpoint, ENDPOINT);
    assert.equal(s.pending?.awaiting, 'migrate');

    s = vm(prepared)
      .when(ok('migrate'))
      .then([handedOff(MIG, HOST_B)]);
    assert.equal(s.migration?.handedOff, true);
    assert.equal(s.pending?.awaiting, 'finishIncoming');
    assert.equal(s.state, 'migrating');

    s = vm(handed)
      .when(ok('finishIncoming'))
      .then([migrated(MIG, HOST_A, HOST_B)]);
    assert.equal(s.state, 'running');
    assert.equal(s.hostId, HOST_B);
    assert.equal(s.pending, null);
    assert.equal(s.migration, null);
  });

  test('cold happy path: a stopped VM ends stopped on the target', () => {
    const cold = [...H.stopped, migrationRequested(MIG, HOST_A, HOST_B, false)];
    vm(H.stopped)
      .when(migrateTo(false, HOST_B, MIG))
      .then([migrationRequested(MIG, HOST_A, HOST_B, false)]);
    const s = stateOf([...cold, targetPrepared(MIG, HOST_B), handedOff(MIG, HOST_B), migrated(MIG, HOST_A, HOST_B)]);
    assert.equal(s.state, 'stopped');
    assert.equal(s.hostId, HOST_B);
  });

  test('after a migration the VM can migrate back, from its new host', () => {
    const onB = [...handed, migrated(MIG, HOST_A, HOST_B)];
    vm(onB)
      .when(migrateTo(true, HOST_A))
      .then([migrationRequested(NEW, HOST_B, HOST_A, true)]);
    vm(onB)
      .when(migrateTo(true, HOST_B))
      .thenThrows('invalid', /already runs on host host-b/);
  });

  test('to the host it already runs on → invalid', () => {
    vm(H.running)
      .when(migrateTo(true, HOST_A))
      .thenThrows('invalid', /^targetHostId: the VM already runs on host host-a$/);
  });

  test('prepareIncoming failed → back to running on the source host', () => {
    const s = vm(requestedLive)
      .when(fail('prepareIncoming'))
      .then([operationFailed(MIG, 'migrate', 'prepareIncoming', 'net down', 'running')]);
    assert.equal(s.state, 'running');
    assert.equal(s.hostId, HOST_A);
    assert.equal(s.migration, null);
    assert.equal(s.pending, null);
  });

  test('migrate failed → back to running on the source host', () => {
    const s = vm(prepared)
      .when(fail('migrate'))
      .then([operationFailed(MIG, 'migrate', 'migrate', 'net down', 'running')]);
    assert.equal(s.state, 'running');
    assert.equal(s.hostId, HOST_A);
    assert.equal(s.migration, null);
  });

  test('a failed cold migration returns to stopped', () => {
    const cold = [...H.stopped, migrationRequested(MIG, HOST_A, HOST_B, false)];
    vm(cold)
      .when(fail('prepareIncoming'))
      .then([operationFailed(MIG, 'migrate', 'prepareIncoming', 'net down', 'stopped')]);
  });

  test('finishIncoming failed → failed', () => {
    const s = vm(handed)
      .when(fail('finishIncoming'))
      .then([operationFailed(MIG, 'migrate', 'finishIncoming', 'net down', 'failed')]);
    assert.equal(s.state, 'failed');
    assert.equal(s.pending, null);
    assert.equal(s.migration, null);
  });

  test('steps out of order, repeated, or for another operation → already_recorded', () => {
    vm(requestedLive).when(ok('migrate')).thenThrows('already_recorded');
    vm(requestedLive).when(ok('finishIncoming')).thenThrows('already_recorded');
    vm(prepared)
      .when(ok('prepareIncoming', { endpoint: ENDPOINT }))
      .thenThrows('already_recorded');
    vm(prepared).when(fail('prepareIncoming')).thenThrows('already_recorded');
    vm(handed).when(ok('migrate')).thenThrows('already_recorded');
    vm([...handed, migrated(MIG, HOST_A, HOST_B)])
      .when(ok('finishIncoming'))
      .thenThrows('already_recorded');
    vm([...handed, migrated(MIG, HOST_A, HOST_B)])
      .when(fail('finishIncoming'))
      .thenThrows('already_recorded');
    vm(prepared)
      .when({ type: 'RecordStepSucceeded', operationId: 'op-x', step: 'migrate', output: {}, at: AT })
      .thenThrows('already_recorded');
  });

  test('abortIncoming (compensation after a failure) has no result event', () => {
    const failed = [...prepared, operationFailed(MIG, 'migrate', 'migrate', 'x', 'running')];
    vm(failed).when(ok('abortIncoming')).thenThrows('already_recorded');
    vm(failed).when(fail('abortIncoming')).thenThrows('already_recorded');
  });
});

describe('VM decider: migration progress', () => {
  const progress = (operationId: string): VmCommand => ({
    type: 'RecordMigrationProgress',
    operationId,
    progress: { percent: 40, transferredBytes: 400, remainingBytes: 600, totalBytes: 1000 },
  });

  test('recorded for the pending migration, at any of its steps; state unchanged', () => {
    for (const history of [
      H.migrating,
      [...H.migrating, targetPrepared('op-migrate', HOST_B)],
      [...H.migrating, targetPrepared('op-migrate', HOST_B), handedOff('op-migrate', HOST_B)],
    ]) {
      const s = vm(history)
        .when(progress('op-migrate'))
        .then([
          {
            type: 'VmMigrationProgressed',
            data: {
              operationId: 'op-migrate',
              percent: 40,
              transferredBytes: 400,
              remainingBytes: 600,
              totalBytes: 1000,
            },
          },
        ]);
      assert.deepEqual(s, stateOf(history));
    }
  });

  test('partial progress carries only what was measured', () => {
    vm(H.migrating)
      .when({ type: 'RecordMigrationProgress', operationId: 'op-migrate', progress: { percent: 5 } })
      .then([{ type: 'VmMigrationProgressed', data: { operationId: 'op-migrate', percent: 5 } }]);
  });

  test('nothing for another operation, a non-migrate operation, an idle, finished or unknown VM', () => {
    vm(H.migrating).when(progress('op-other')).thenNothing();
    vm(H.runningBusy).when(progress('op-busy')).thenNothing();
    vm(H.running).when(progress('op-migrate')).thenNothing();
    vm([
      ...H.migrating,
      targetPrepared('op-migrate', HOST_B),
      handedOff('op-migrate', HOST_B),
      migrated('op-migrate', HOST_A, HOST_B),
    ])
      .when(progress('op-migrate'))
      .thenNothing();
    vm([]).when(progress('op-migrate')).thenNothing();
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Delete
// ---------------------------------------------------------------------------------------------------------------

describe('VM decider: delete', () => {
  const del: VmCommand = { type: 'DeleteVm', operationId: NEW };

  test('never placed, failed: requested and deleted at once (no worker has anything to destroy)', () => {
    const s = vm(H.failedUnplaced)
      .when(del)
      .then([deleteRequested(NEW), deletedEv(NEW)]);
    assert.equal(s.state, 'deleted');
    assert.equal(s.pending, null);
  });

  test('still waiting for placement: the create is closed as failed, then requested and deleted at once', () => {
    for (const history of [H.requested, [createRequested({ hostId: HOST_A, start: false })]]) {
      const s = vm(history)
        .when(del)
        .then([
          operationFailed(CREATE, 'create', 'placement', `cancelled: the VM was deleted by operation ${NEW}`, 'failed'),
          deleteRequested(NEW),
          deletedEv(NEW),
        ]);
      assert.equal(s.state, 'deleted');
      assert.equal(s.pending, null);
      const after = [...history, ...vmDecider.decide(del, stateOf(history))];
      vm(after).when({ type: 'PlaceVm', operationId: CREATE, hostId: HOST_A }).thenThrows('already_recorded');
      vm(after).when({ type: 'FailPlacement', operationId: CREATE, reason: 'x' }).thenThrows('already_recorded');
    }
  });

  test('on a host: deleting until the destroy result, with destroy pending', () => {
    const s = vm(H.running)
      .when(del)
      .then([deleteRequested(NEW)]);
    assert.equal(s.state, 'deleting');
    assert.equal(s.pending?.awaiting, 'destroy');
    assert.equal(s.pending?.stateBefore, 'running');
  });

  test('once placed, a pending create blocks the delete', () => {
    vm(H.provisioning).when(del).thenThrows('conflict', busyMessage(CREATE, 'create'));
    vm(H.createStarting).when(del).thenThrows('conflict', busyMessage(CREATE, 'create'));
  });

  test('deleted: every later command is not_found, a second delete too', () => {
    vm(H.deleted)
      .when(del)
      .thenThrows('not_found', /was deleted/);
    vm(H.deleted)
      .when({ type: 'RecordStepSucceeded', operationId: 'op-delete', step: 'destroy', output: {}, at: AT })
      .thenThrows('already_recorded');
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Reconciliation: what the driver reports
// ---------------------------------------------------------------------------------------------------------------

describe('VM decider: observed state', () => {
  const observe = (observed: ObservedState, jobActive = false): VmCommand => ({
    type: 'ReportObservedState',
    observed,
    reason: 'status poll',
    jobActive,
  });
  const abandoned = (observed: ObservedState): string =>
    `abandoned: no job is running for it and the driver reports the VM ${observed} (status poll)`;

  describe('crash detection (idle VM that was up)', () => {
    for (const [from, history] of [
      ['running', H.running],
      ['paused', H.paused],
    ] as const) {
      for (const observed of ['stopped', 'crashed', 'absent'] as const) {
        test(`${from}, observed ${observed} → VmCrashed, stopped`, () => {
          const s = vm(history)
            .when(observe(observed))
            .then([{ type: 'VmCrashed', data: { reason: 'status poll', previousState: from } }]);
          assert.equal(s.state, 'stopped');
          assert.equal(s.hostId, HOST_A);
          vm([...history, { type: 'VmCrashed', data: { reason: 'x', previousState: from } }])
            .when({ type: 'StartVm', operationId: NEW })
            .then([startRequested(NEW)]);
        });
      }
    }
  });

  describe('reconciled mismatches', () => {
    for (const [from, history, observed] of [
      ['running', H.running, 'paused'],
      ['paused', H.paused, 'running'],
      ['stopped', H.stopped, 'running'],
      ['stopped', H.stopped, 'paused'],
    ] as const) {
      test(`${from}, observed ${observed} → VmStateReconciled`, () => {
        const s = vm(history)
          .when(observe(observed))
          .then([{ type: 'VmStateReconciled', data: { from, to: observed, reason: 'status poll' } }]);
        assert.equal(s.state, observed);
      });
    }
  });

  describe('agreement → nothing', () => {
    for (const [from, history, observed] of [
      ['running', H.running, 'running'],
      ['paused', H.paused, 'paused'],
      ['stopped', H.stopped, 'stopped'],
      ['stopped', H.stopped, 'crashed'],
    ] as const) {
      test(`${from}, observed ${observed}`, () => {
        vm(history).when(observe(observed)).thenNothing();
      });
    }
  });

  test('deleted, never created, failed → nothing', () => {
    for (const observed of ['running', 'paused', 'stopped', 'crashed', 'absent'] as const) {
      vm(H.deleted).when(observe(observed)).thenNothing();
      vm([]).when(observe(observed)).thenNothing();
      vm(H.failedOnHost).when(observe(observed)).thenNothing();
    }
  });

  test('a pending operation whose job is still active → nothing, whatever is observed', () => {
    for (const history of [H.provisioning, H.createStarting, H.runningBusy, H.migrating, H.deleting]) {
      for (const observed of ['running', 'paused', 'stopped', 'crashed', 'absent'] as const) {
        vm(history).when(observe(observed, true)).thenNothing();
      }
    }
  });

  describe('a stuck pending operation with no job → VmOperationFailed with the real state', () => {
    const cases: [string, VmEvent[], ObservedState, OperationKind, JobStep, VmStateName][] = [
      ['stop pending, VM stopped', H.runningBusy, 'stopped', 'stop', 'stop', 'stopped'],
      ['stop pending, VM still running', H.runningBusy, 'running', 'stop', 'stop', 'running'],
      ['start pending, VM running', [...H.stopped, startRequested(NEW)], 'running', 'start', 'start', 'running'],
      ['pause pending, VM crashed', [...H.running, pauseRequested(NEW)], 'crashed', 'pause', 'pause', 'stopped'],
      ['create waiting for define, nothing on the host', H.provisioning, 'absent', 'create', 'define', 'failed'],
      ['create waiting for start, VM stopped', H.createStarting, 'stopped', 'create', 'start', 'stopped'],
      [
        'migration handed off, VM running',
        [...H.migrating, targetPrepared('op-migrate', HOST_B), handedOff('op-migrate', HOST_B)],
        'running',
        'migrate',
        'finishIncoming',
        'running',
      ],
      ['delete pending, VM still running', H.deleting, 'running', 'delete', 'destroy', 'running'],
    ];
    for (const [name, history, observed, kind, step, to] of cases) {
      test(name, () => {
        const id = stateOf(history).pending?.id ?? '';
        const s = vm(history)
          .when(observe(observed))
          .then([operationFailed(id, kind, step, abandoned(observed), to)]);
        assert.equal(s.state, to);
        assert.equal(s.pending, null);
        assert.equal(s.migration, null);
      });
    }
  });

  test('a stuck delete with the VM absent → VmDeleted', () => {
    const s = vm(H.deleting)
      .when(observe('absent'))
      .then([deletedEv('op-delete')]);
    assert.equal(s.state, 'deleted');
  });
});

describe('VM decider: coverage', () => {
  test('every command type is covered by a describe above', () => {
    for (const [type, where] of Object.entries(COVERED_BY)) assert.ok(where.length > 0, type);
  });
});
