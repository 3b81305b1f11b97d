import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  CREATE,
  NEW,
  busyMessage,
  deleteRequested,
  deletedEv,
  operationFailed,
  H,
  vm,
  stateOf,
} from '../../../test/support/vm-histories.js';
import { COLUMN_NAMES, COLUMNS } from '../../../test/support/vm-columns.js';
import type { VmCommandType } from './vm.commands.js';
import type { VmEvent } from './vm.events.js';
import { VM_STATES, type OperationKind, type VmStateName } from './vm.types.js';

// ---------------------------------------------------------------------------------------------------------------
// The whole table: every reachable state × every user command
// ---------------------------------------------------------------------------------------------------------------

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
  ResizeVm: 'resize',
  CancelOperation: 'cancel',
  ScheduleRestart: 'healing (vm.healing.spec.ts)',
  FireRestart: 'healing (vm.healing.spec.ts)',
  SetRestartPolicy: 'healing (vm.healing.spec.ts)',
  RecoverVm: 'recovery (vm.recovery.spec.ts)',
  MarkLostWithHost: 'recovery (vm.recovery.spec.ts)',
  AttachVolume: 'volumes (vm.decider.volumes.spec.ts)',
  DetachVolume: 'volumes (vm.decider.volumes.spec.ts)',
  NoteVolumeSize: 'volumes (vm.decider.volumes.spec.ts)',
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
