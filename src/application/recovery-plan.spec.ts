import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fold } from '../domain/decider.js';
import { hostDecider } from '../domain/host/host.decider.js';
import type { HostEvent } from '../domain/host/host.events.js';
import {
  CREATE,
  SPEC,
  VM_ID,
  defined,
  handedOff,
  migrationRequested,
  placed,
  started,
  stateOf,
  targetPrepared,
} from '../../test/support/vm-histories.js';
import type { VmEvent } from '../domain/vm/vm.events.js';
import type { RestartPolicy } from '../domain/vm/vm.types.js';
import { planRecovery } from './recovery-plan.js';

const host = (id: string, uri: string, extra: HostEvent[] = [], driver = 'qemu') =>
  fold(hostDecider, [
    {
      type: 'HostRegistered',
      data: { hostId: id, name: id, driver, uri, capacity: { vcpus: 8, memoryMiB: 8192 } },
    },
    ...extra,
  ]);
const SHARED = 'qemu:///system?storage=/srv/shared';
const unreachable: HostEvent = {
  type: 'HostUnreachable',
  data: { lastHeartbeatAt: 'x', lastHeartbeatBy: 'w/1', silentMs: 9000, observedBy: 'api/1' },
};
const fencedEv: HostEvent = {
  type: 'HostFenced',
  data: {
    fenceId: 'f1',
    by: 'alice',
    evidence: { kind: 'admin', unreachable: unreachable.data },
  },
};
const A = host('a', SHARED, [unreachable, fencedEv]);
const vmOn = (policy?: RestartPolicy, extra: VmEvent[] = []) =>
  stateOf([
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
    placed('a'),
    defined('a'),
    started(CREATE),
    ...extra,
  ]);

describe('recovery plan (pure)', () => {
  test('restartPolicy and a host sharing the storage → recover there, with every candidate as evidence', () => {
    const plan = planRecovery(vmOn('on-crash'), A, [
      A,
      host('b', SHARED),
      host('c', 'qemu:///system?storage=/srv/other'),
      host('d', SHARED, [unreachable]),
      host('e', SHARED, [], 'libvirt'),
    ]);
    assert.equal(plan.kind, 'recover');
    assert.ok(plan.kind === 'recover');
    assert.equal(plan.targetHostId, 'b');
    assert.deepEqual(
      plan.evidence.candidates.map((c) => [c.hostId, c.verdict, c.reason]),
      [
        ['b', 'chosen', undefined],
        ['c', 'refused', 'storage'],
        ['d', 'refused', 'unreachable'],
        ['e', 'refused', 'capability'],
      ],
    );
  });
  test('restartPolicy never → lost, not moved', () => {
    const plan = planRecovery(vmOn(), A, [A, host('b', SHARED)]);
    assert.equal(plan.kind, 'lost');
    assert.ok(plan.kind === 'lost');
    assert.match(plan.reason, /restartPolicy is never, so it is not moved/);
  });
  test('no host shares the storage → lost, needs attention', () => {
    const plan = planRecovery(vmOn('always'), A, [A, host('b', 'qemu:///system?storage=/srv/other')]);
    assert.ok(plan.kind === 'lost');
    assert.match(plan.reason, /no other host shares it: needs attention/);
  });
  test('hosts sharing it are full → lost naming them; planned claims count', () => {
    const planned = new Map([['b', { vcpus: 8, memoryMiB: 0 }]]);
    const plan = planRecovery(vmOn('on-crash'), A, [A, host('b', SHARED)], planned);
    assert.ok(plan.kind === 'lost');
    assert.match(plan.reason, /no host sharing its storage can take it now: b has 0 vCPUs/);
  });
  test('a VM someone stopped, or no longer on the host → left alone', () => {
    const stopped = vmOn('on-crash', [
      { type: 'VmStopRequested', data: { operationId: 'op-s', force: false } },
      { type: 'VmStopped', data: { operationId: 'op-s' } },
    ]);
    assert.equal(planRecovery(stopped, A, [A, host('b', SHARED)]).kind, 'skip');
    assert.equal(planRecovery(vmOn('on-crash'), host('z', SHARED), [host('b', SHARED)]).kind, 'skip');
  });

  describe('a migration in flight when a host is fenced', () => {
    /** On `from`, migrating live to `to`; handed off or not. */
    const moving = (from: string, to: string, handed: boolean) =>
      stateOf([
        {
          type: 'VmCreateRequested',
          data: {
            vmId: VM_ID,
            operationId: CREATE,
            spec: SPEC,
            requestedHostId: null,
            start: true,
            restartPolicy: 'always',
          },
        },
        placed(from),
        defined(from),
        started(CREATE),
        migrationRequested('op-m', from, to, true),
        targetPrepared('op-m', to),
        ...(handed ? [handedOff('op-m', to)] : []),
      ]);
    test('handed off to the fenced host: it is that host’s VM, recovered, and its source may take it back', () => {
      const plan = planRecovery(moving('b', 'a', true), A, [A, host('b', SHARED)]);
      assert.ok(plan.kind === 'recover', JSON.stringify(plan));
      assert.equal(plan.targetHostId, 'b');
    });
    test('handed off by the fenced host: left to its target, which finishes the migration', () => {
      const plan = planRecovery(moving('a', 'b', true), A, [A, host('b', SHARED)]);
      assert.deepEqual(plan, { kind: 'skip', why: 'handed off to its migration target, which finishes it' });
    });
    test('the fenced source had not handed off: recovered, never onto the migration target being cleaned up', () => {
      const plan = planRecovery(moving('a', 'b', false), A, [A, host('b', SHARED), host('c', SHARED)]);
      assert.ok(plan.kind === 'recover', JSON.stringify(plan));
      assert.equal(plan.targetHostId, 'c');
      assert.deepEqual(
        plan.evidence.candidates.map((c) => [c.hostId, c.verdict, c.reason]),
        [
          ['c', 'chosen', undefined],
          ['b', 'refused', 'migration'],
        ],
      );
      const alone = planRecovery(moving('a', 'b', false), A, [A, host('b', SHARED)]);
      assert.ok(alone.kind === 'lost');
      assert.match(alone.reason, /b the target of its unfinished migration/);
    });
  });
});
