import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  CREATE,
  HOST_A,
  HOST_B,
  SPEC,
  VM_ID,
  defined,
  placed,
  started,
  stateOf,
} from '../../test/support/vm-histories.js';
import type { VmEvent } from '../domain/vm/vm.events.js';
import type { RestartPolicy } from '../domain/vm/vm.types.js';
import { derivedOperationId, fenceSaga, healingSaga } from './healing.saga.js';

const SETTINGS = { baseMs: 1000, maxMs: 8000, maxRestarts: 5, windowMs: 600000 };
const CAUSE = { id: 'ev-crash', position: '42', at: '2030-01-01T00:00:00.000Z' };
const history = (policy?: RestartPolicy): VmEvent[] => [
  {
    type: 'VmCreateRequested',
    data: {
      vmId: VM_ID,
      operationId: CREATE,
      spec: SPEC,
      requestedHostId: null,
      start: true,
      ...(policy ? { restartPolicy: policy } : {}),
    },
  },
  placed(),
  defined(),
  started(CREATE),
];
const crash: VmEvent = { type: 'VmCrashed', data: { reason: 'gone', previousState: 'running' } };
const react = (h: VmEvent[], e: VmEvent) => healingSaga(e, CAUSE, stateOf([...h, e]), SETTINGS);

describe('healing saga', () => {
  test('a crash of a VM with a policy asks the decider to schedule a restart naming the crash', () => {
    assert.deepEqual(react(history('on-crash'), crash), [
      {
        type: 'command',
        vmId: VM_ID,
        command: {
          type: 'ScheduleRestart',
          operationId: derivedOperationId('restart:ev-crash'),
          causeEventId: 'ev-crash',
          causePosition: '42',
          causeAt: CAUSE.at,
          settings: SETTINGS,
        },
      },
    ]);
  });
  test('the operation id is derived from the cause: a replay asks for the same one', () => {
    assert.equal(derivedOperationId('restart:x'), derivedOperationId('restart:x'));
    assert.notEqual(derivedOperationId('restart:x'), derivedOperationId('restart:y'));
    assert.match(derivedOperationId('restart:x'), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$/);
  });
  test('no policy, or a crash with a fenced host → nothing', () => {
    assert.deepEqual(react(history(), crash), []);
    const fenced: VmEvent = {
      type: 'VmCrashed',
      data: { ...crash.data, fence: { hostId: HOST_A, fenceId: 'f' } } as never,
    };
    assert.deepEqual(react(history('always'), fenced), []);
  });
  test('a failed restart or recovery asks again (the decider counts it against the limit); a cancelled one does not', () => {
    const failed = (kind: 'restart' | 'recover' | 'start', cancelled = false): VmEvent => ({
      type: 'VmOperationFailed',
      data: {
        operationId: 'op',
        kind,
        step: 'start',
        reason: 'boom',
        state: 'stopped',
        ...(cancelled ? { cancelled: { by: 'alice' } } : {}),
      },
    });
    assert.equal(react(history('on-crash'), failed('restart')).length, 1);
    assert.equal(react(history('on-crash'), failed('recover')).length, 1);
    assert.deepEqual(react(history('on-crash'), failed('start')), []);
    assert.deepEqual(react(history('on-crash'), failed('restart', true)), []);
  });
  test('a scheduled restart gets a timer at its notBefore', () => {
    const e: VmEvent = {
      type: 'VmRestartScheduled',
      data: {
        operationId: 'op-r',
        causeEventId: 'ev-crash',
        causePosition: '42',
        causeAt: CAUSE.at,
        policy: 'on-crash',
        attempt: 1,
        delayMs: 1000,
        notBefore: '2030-01-01T00:00:01.000Z',
      },
    };
    assert.deepEqual(react([...history('on-crash'), crash], e), [
      { type: 'timer', vmId: VM_ID, operationId: 'op-r', notBefore: '2030-01-01T00:00:01.000Z' },
    ]);
  });
  test('a recovery gives the fenced host its capacity back and defines the VM on the new host', () => {
    const e: VmEvent = {
      type: 'VmRecoveryRequested',
      data: {
        operationId: 'op-rec',
        fenceId: 'f1',
        fromHostId: HOST_A,
        targetHostId: HOST_B,
        evidence: { kind: 'placement', candidates: [] },
      },
    };
    assert.deepEqual(react(history('on-crash'), e), [
      { type: 'release', hostId: HOST_A, vmId: VM_ID, operationId: 'op-rec' },
      { type: 'enqueue', hostId: HOST_B, vmId: VM_ID, operationId: 'op-rec', step: 'define', args: {} },
    ]);
  });
  test('HostFenced → recover the host; other host events → nothing', () => {
    assert.deepEqual(
      fenceSaga(
        {
          type: 'HostFenced',
          data: { fenceId: 'f1', by: 'alice', evidence: { kind: 'worker', confirmedBy: 'w/1', stoppedVms: [] } },
        },
        HOST_A,
      ),
      [{ type: 'recoverHost', hostId: HOST_A, fenceId: 'f1' }],
    );
    assert.deepEqual(fenceSaga({ type: 'HostStateChanged', data: { state: 'draining' } }, HOST_A), []);
  });
});
