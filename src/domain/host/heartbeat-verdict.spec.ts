import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { given } from '../../../test/support/decider-spec.js';
import { heartbeatVerdict } from './heartbeat-verdict.js';
import { hostDecider } from './host.decider.js';
import type { HostEvent } from './host.events.js';
import { evolveHost, initialHostState, type HostState } from './host.state.js';

const registered: HostEvent = {
  type: 'HostRegistered',
  data: { hostId: 'h1', name: 'h1', driver: 'simulated', uri: 'simulated://', capacity: { vcpus: 4, memoryMiB: 4096 } },
};
const unreachable: HostEvent = {
  type: 'HostUnreachable',
  data: { lastHeartbeatAt: '2026-01-01T00:00:00.000Z', lastHeartbeatBy: 'w/1', silentMs: 16000, observedBy: 'api/2' },
};
const fold = (events: HostEvent[]): HostState => events.reduce((s, e) => evolveHost(s, e), initialHostState());
const heard = { beat: { at: '2026-01-01T00:00:00.000Z', by: 'w/1' }, heardAtMs: 1000 };

describe('heartbeat verdict (pure)', () => {
  test('silent over deadMs → MarkUnreachable with the evidence; within → nothing', () => {
    assert.equal(heartbeatVerdict(fold([registered]), heard, 1000 + 15000, 15000, 'api/2'), null);
    assert.deepEqual(heartbeatVerdict(fold([registered]), heard, 1000 + 15001, 15000, 'api/2'), {
      type: 'MarkUnreachable',
      lastHeartbeatAt: '2026-01-01T00:00:00.000Z',
      lastHeartbeatBy: 'w/1',
      silentMs: 15001,
      observedBy: 'api/2',
    });
  });

  test('heard again while unreachable → MarkReachable; still silent → nothing more', () => {
    const s = fold([registered, unreachable]);
    assert.deepEqual(heartbeatVerdict(s, heard, 2000, 15000, 'api/2'), {
      type: 'MarkReachable',
      heartbeatAt: '2026-01-01T00:00:00.000Z',
      heartbeatBy: 'w/1',
      observedBy: 'api/2',
    });
    assert.equal(heartbeatVerdict(s, heard, 99999, 15000, 'api/2'), null);
  });

  test('an unknown or removed host is never judged', () => {
    assert.equal(heartbeatVerdict(initialHostState(), heard, 99999, 15000, 'api/2'), null);
    const removed: HostEvent = { type: 'HostRemoved', data: { hostId: 'h1', name: 'h1' } };
    assert.equal(heartbeatVerdict(fold([registered, removed]), heard, 99999, 15000, 'api/2'), null);
  });
});

describe('host decider: reachability', () => {
  test('MarkUnreachable records once; an unreachable host takes no new VM', () => {
    const cmd = { type: 'MarkUnreachable' as const, ...unreachable.data };
    given(hostDecider, [registered]).when(cmd).then([unreachable]);
    given(hostDecider, [registered, unreachable]).when(cmd).then([]);
    given(hostDecider, [registered, unreachable])
      .when({ type: 'ReserveCapacity', vmId: 'vm-1', operationId: 'op-1', vcpus: 1, memoryMiB: 512 })
      .thenThrows('capacity', /is unreachable \(no heartbeat since 2026-01-01T00:00:00.000Z\) and takes no new VMs/);
  });

  test('MarkReachable clears it (and only when unreachable); the host takes VMs again', () => {
    const back: HostEvent = {
      type: 'HostReachable',
      data: { heartbeatAt: 'x', heartbeatBy: 'w/3', observedBy: 'api/2' },
    };
    const cmd = { type: 'MarkReachable' as const, heartbeatAt: 'x', heartbeatBy: 'w/3', observedBy: 'api/2' };
    given(hostDecider, [registered]).when(cmd).then([]);
    const s = given(hostDecider, [registered, unreachable]).when(cmd).then([back]);
    assert.equal(s.unreachable, null);
    given(hostDecider, [registered, unreachable, back])
      .when({ type: 'ReserveCapacity', vmId: 'vm-1', operationId: 'op-1', vcpus: 1, memoryMiB: 512 })
      .then([{ type: 'HostCapacityReserved', data: { vmId: 'vm-1', operationId: 'op-1', vcpus: 1, memoryMiB: 512 } }]);
  });
});

describe('host decider: fence', () => {
  const fence = { type: 'FenceHost' as const, fenceId: 'f1', by: 'alice', reason: 'power cut' };
  test('refused while the host is reachable; nothing recorded', () => {
    given(hostDecider, [registered])
      .when(fence)
      .thenThrows('conflict', /is reachable \(its worker heartbeats\)/);
  });
  test('an unreachable host → HostFenced with the unreachable evidence; again → nothing; it takes no new VM', () => {
    const ev: HostEvent = {
      type: 'HostFenced',
      data: {
        fenceId: 'f1',
        by: 'alice',
        reason: 'power cut',
        evidence: { kind: 'admin', unreachable: unreachable.data },
      },
    };
    const s = given(hostDecider, [registered, unreachable]).when(fence).then([ev]);
    assert.equal(s.fenced?.fenceId, 'f1');
    given(hostDecider, [registered, unreachable, ev])
      .when({ ...fence, fenceId: 'f2' })
      .then([]);
    given(hostDecider, [registered, unreachable, ev])
      .when({ type: 'ReserveCapacity', vmId: 'vm-1', operationId: 'op-1', vcpus: 1, memoryMiB: 512 })
      .thenThrows('capacity', /unreachable|fenced/);
    // Heard again: no longer fenced, the last fence is remembered.
    const back = fold([
      registered,
      unreachable,
      ev,
      { type: 'HostReachable', data: { heartbeatAt: 'x', heartbeatBy: 'w/2', observedBy: 'api/2' } },
    ]);
    assert.equal(back.fenced, null);
    assert.equal(back.lastFenceId, 'f1');
  });
  test("a worker's own confirmation needs no silence", () => {
    given(hostDecider, [registered])
      .when({ ...fence, confirmation: { confirmedBy: 'hv1/42', stoppedVms: ['vm-1'] } })
      .then([
        {
          type: 'HostFenced',
          data: {
            fenceId: 'f1',
            by: 'alice',
            reason: 'power cut',
            evidence: { kind: 'worker', confirmedBy: 'hv1/42', stoppedVms: ['vm-1'] },
          },
        },
      ]);
  });
});
