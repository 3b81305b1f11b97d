import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  HOST_A,
  HOST_B,
  AT,
  NEW,
  ENDPOINT,
  migrationRequested,
  targetPrepared,
  handedOff,
  migrated,
  operationFailed,
  H,
  vm,
  stateOf,
} from '../../../test/support/vm-histories.js';
import { migrateTo } from '../../../test/support/vm-columns.js';
import type { StepOutput, VmCommand } from './vm.commands.js';
import { type JobStep } from './vm.types.js';

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

  test('steps out of order, repeated, or for another operation → nothing (already done)', () => {
    vm(requestedLive).when(ok('migrate')).thenNothing();
    vm(requestedLive).when(ok('finishIncoming')).thenNothing();
    vm(prepared)
      .when(ok('prepareIncoming', { endpoint: ENDPOINT }))
      .thenNothing();
    vm(prepared).when(fail('prepareIncoming')).thenNothing();
    vm(handed).when(ok('migrate')).thenNothing();
    vm([...handed, migrated(MIG, HOST_A, HOST_B)])
      .when(ok('finishIncoming'))
      .thenNothing();
    vm([...handed, migrated(MIG, HOST_A, HOST_B)])
      .when(fail('finishIncoming'))
      .thenNothing();
    vm(prepared)
      .when({ type: 'RecordStepSucceeded', operationId: 'op-x', step: 'migrate', output: {}, at: AT })
      .thenNothing();
  });

  test('abortIncoming (compensation after a failure) has no result event', () => {
    const failed = [...prepared, operationFailed(MIG, 'migrate', 'migrate', 'x', 'running')];
    vm(failed).when(ok('abortIncoming')).thenNothing();
    vm(failed).when(fail('abortIncoming')).thenNothing();
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
