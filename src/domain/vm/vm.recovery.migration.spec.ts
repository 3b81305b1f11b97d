/**
 * A fence while a migration to or from the fenced host is in flight (issue 16): every case, as
 * given/when/then on the VM decider. The host with the guest is the source before the hand-off
 * and the target from it on; a fence of that host closes the migration and the VM is recovered or
 * marked lost like the host's other VMs (once per fence); a fence of the other side is either the
 * migration's failure (before the hand-off) or nothing (after it: the target finishes).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  CREATE,
  HOST_A,
  HOST_B,
  SPEC,
  VM_ID,
  defined,
  handedOff,
  migrated,
  migrationRequested,
  placed,
  started,
  stateOf,
  targetPrepared,
  vm,
} from '../../../test/support/vm-histories.js';
import type { PlacementEvidence } from './evidence.js';
import type { VmCommand } from './vm.commands.js';
import { vmDecider } from './vm.decider.js';
import type { VmEvent } from './vm.events.js';

const HOST_C = 'host-c';
const EVIDENCE: PlacementEvidence = { kind: 'placement', candidates: [{ hostId: HOST_C, verdict: 'chosen' }] };
const created: VmEvent = {
  type: 'VmCreateRequested',
  data: { vmId: VM_ID, operationId: CREATE, spec: SPEC, requestedHostId: null, start: true, restartPolicy: 'always' },
};
/** Running on A, a live migration to B asked (not handed off yet). */
const migrating: VmEvent[] = [
  created,
  placed(HOST_A),
  defined(HOST_A),
  started(CREATE),
  migrationRequested('op-m', HOST_A, HOST_B, true),
  targetPrepared('op-m', HOST_B),
];
/** A handed the guest off to B; B's finishIncoming has not answered. */
const handed: VmEvent[] = [...migrating, handedOff('op-m', HOST_B)];

const recover = (from: string, to = HOST_C): VmCommand => ({
  type: 'RecoverVm',
  operationId: 'op-rec',
  fenceId: 'f1',
  fromHostId: from,
  targetHostId: to,
  evidence: EVIDENCE,
});
const lost = (hostId: string): VmCommand => ({ type: 'MarkLostWithHost', fenceId: 'f1', hostId, reason: 'fenced' });
/** What the decider answers, without asserting it (for the cases checked field by field). */
const decide = (history: VmEvent[], cmd: VmCommand): VmEvent[] => vmDecider.decide(cmd, stateOf(history));
const failedAfterHandOff: VmEvent = {
  type: 'VmOperationFailed',
  data: {
    operationId: 'op-m',
    kind: 'migrate',
    step: 'finishIncoming',
    reason: `the target host ${HOST_B} was fenced (f1) after ${HOST_A} handed the VM off: its guest ran there only, so the migration cannot finish`,
    state: 'stopped',
    hostId: HOST_B,
  },
};

describe('VM decider: a fence of the target after the hand-off', () => {
  test('recovered: the migration fails naming the fence, the VM is on the target, then re-placed once', () => {
    const recovery: VmEvent = {
      type: 'VmRecoveryRequested',
      data: { operationId: 'op-rec', fenceId: 'f1', fromHostId: HOST_B, targetHostId: HOST_C, evidence: EVIDENCE },
    };
    const s = vm(handed).when(recover(HOST_B)).then([failedAfterHandOff, recovery]);
    assert.equal(s.hostId, HOST_C);
    assert.equal(s.migration, null);
    assert.equal(s.pending?.kind, 'recover');
    vm([...handed, failedAfterHandOff, recovery])
      .when(recover(HOST_B))
      .thenNothing();
  });
  test('recovered back onto the source it came from: allowed, it no longer runs there', () => {
    const s = decide(handed, recover(HOST_B, HOST_A));
    assert.equal(s.at(-1)?.type, 'VmRecoveryRequested');
  });
  test('not recoverable: the migration fails and the VM reads crashed on the fenced target, where it ran', () => {
    const s = vm(handed)
      .when(lost(HOST_B))
      .then([
        failedAfterHandOff,
        {
          type: 'VmCrashed',
          data: { reason: 'fenced', previousState: 'running', fence: { hostId: HOST_B, fenceId: 'f1' } },
        },
      ]);
    assert.equal(s.hostId, HOST_B);
    assert.deepEqual(s.crash?.fence, { hostId: HOST_B, fenceId: 'f1' });
    vm([...handed, failedAfterHandOff])
      .when(lost(HOST_B))
      .thenNothing();
  });
});

describe('VM decider: a fence of the source after the hand-off', () => {
  test('nothing: the guest runs on the target, which finishes the migration', () => {
    vm(handed).when(recover(HOST_A)).thenNothing();
    vm(handed).when(lost(HOST_A)).thenNothing();
    const s = vm(handed)
      .when({ type: 'RecordStepSucceeded', operationId: 'op-m', step: 'finishIncoming', output: {}, at: 'x' })
      .then([migrated('op-m', HOST_A, HOST_B)]);
    assert.equal(s.hostId, HOST_B);
    assert.equal(s.state, 'running');
  });
});

describe('VM decider: a fence before the hand-off', () => {
  test('of the source: the migration fails and the VM, still the source’s, is recovered elsewhere', () => {
    const events = decide(migrating, recover(HOST_A));
    assert.deepEqual(
      events.map((e) => e.type),
      ['VmOperationFailed', 'VmRecoveryRequested'],
    );
    const failed = events[0] as Extract<VmEvent, { type: 'VmOperationFailed' }>;
    assert.equal(failed.data.kind, 'migrate');
    assert.match(failed.data.reason, new RegExp(`host ${HOST_A} was fenced \\(f1\\)`));
    assert.equal(failed.data.hostId, undefined, 'the VM stays the source’s until the recovery moves it');
  });
  test('of the source, not recoverable: crashed on the source, previously running (not "migrating")', () => {
    const events = decide(migrating, lost(HOST_A));
    const crashed = events.find((e) => e.type === 'VmCrashed') as Extract<VmEvent, { type: 'VmCrashed' }>;
    assert.equal(crashed.data.previousState, 'running');
    assert.deepEqual(crashed.data.fence, { hostId: HOST_A, fenceId: 'f1' });
  });
  test('of the target: the migration fails, the VM runs on at the source (nothing to recover)', () => {
    const s = vm(migrating)
      .when(lost(HOST_B))
      .then([
        {
          type: 'VmOperationFailed',
          data: {
            operationId: 'op-m',
            kind: 'migrate',
            step: 'migrate',
            reason: `the target host ${HOST_B} was fenced (f1); the VM stays on ${HOST_A}`,
            state: 'running',
          },
        },
      ]);
    assert.equal(s.hostId, HOST_A);
    assert.equal(s.state, 'running');
    vm(migrating).when(recover(HOST_B)).thenNothing();
  });
});
