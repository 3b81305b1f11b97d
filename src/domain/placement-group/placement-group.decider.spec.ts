import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fold } from '../decider.js';
import { DomainError } from '../domain-error.js';
import type { MemberView, PlacementGroupCommand } from './placement-group.commands.js';
import { placementGroupDecider as d } from './placement-group.decider.js';
import type { PlacementGroupEvent } from './placement-group.events.js';
import { liveMembers, occupancy } from './placement-group.state.js';

const T0 = '2026-12-06T10:00:00.000Z';
const view = (settled: Record<string, string[]> = {}, at = T0): MemberView => ({ settled, at, inFlightMs: 60_000 });
const created = (strict: boolean, policy: 'affinity' | 'anti-affinity' = 'anti-affinity'): PlacementGroupEvent => ({
  type: 'PlacementGroupCreated',
  data: { groupId: 'g', name: 'web', policy, strict, project: 'default' },
});
const admitted = (vmId: string, hostId: string, at = T0): PlacementGroupEvent => ({
  type: 'PlacementGroupMemberAdmitted',
  data: { vmId, vmName: vmId, hostId, candidates: [], at },
});
const admit = (vmId: string, hostId: string, v = view()): PlacementGroupCommand => ({
  type: 'AdmitMember',
  vmId,
  vmName: vmId,
  hostId,
  candidates: [],
  view: v,
});

describe('placement group decider', () => {
  test('create once; a second create of the same id is a conflict', () => {
    const state = fold(d, [created(true)]);
    assert.equal(state.name, 'web');
    assert.throws(
      () =>
        d.decide(
          {
            type: 'CreatePlacementGroup',
            groupId: 'g',
            name: 'x',
            policy: 'affinity',
            strict: false,
            project: 'default',
          },
          state,
        ),
      (e: unknown) => e instanceof DomainError && e.code === 'conflict',
    );
  });

  test('hard anti-affinity: a second member on the same host is refused, another host is admitted', () => {
    const state = fold(d, [created(true), admitted('vm1', 'h1')]);
    assert.throws(() => d.decide(admit('vm2', 'h1'), state), /hard anti-affinity and host h1 runs vm1/);
    assert.deepEqual(
      d.decide(admit('vm2', 'h2'), state).map((e) => e.type),
      ['PlacementGroupMemberAdmitted'],
    );
    // Admitted there already (a retry): nothing to record.
    assert.deepEqual(d.decide(admit('vm1', 'h1'), state), []);
  });

  test('a member gone (deleted, failed) frees its host; one whose create never came frees it after the in-flight window', () => {
    const state = fold(d, [created(true), admitted('vm1', 'h1')]);
    assert.equal(d.decide(admit('vm2', 'h1', view({ vm1: [] })), state).length, 1);
    const later = view({}, '2026-12-06T10:01:00.001Z');
    assert.equal(d.decide(admit('vm2', 'h1', later), state).length, 1);
    // Projected and placed: where the read models say, whatever the admission said.
    assert.deepEqual(occupancy(state, view({ vm1: ['h3'] }, '2026-12-06T11:00:00.000Z')), { h3: ['vm1'] });
  });

  test('hard affinity: members stay together; soft policies admit anywhere', () => {
    const hard = fold(d, [created(true, 'affinity'), admitted('vm1', 'h1')]);
    assert.throws(() => d.decide(admit('vm2', 'h2'), hard), /hard affinity and its members run on h1/);
    assert.equal(d.decide(admit('vm2', 'h1'), hard).length, 1);
    const soft = fold(d, [created(false), admitted('vm1', 'h1')]);
    assert.equal(d.decide(admit('vm2', 'h1'), soft).length, 1);
  });

  test('delete is refused while a member lives, then done once', () => {
    const state = fold(d, [created(true), admitted('vm1', 'h1')]);
    assert.throws(
      () => d.decide({ type: 'DeletePlacementGroup', view: view() }, state),
      (e: unknown) => e instanceof DomainError && e.code === 'conflict' && /still has 1 member/.test(e.message),
    );
    assert.equal(liveMembers(state, view({ vm1: [] })).length, 0);
    const events = d.decide({ type: 'DeletePlacementGroup', view: view({ vm1: [] }) }, state);
    assert.deepEqual(
      events.map((e) => e.type),
      ['PlacementGroupDeleted'],
    );
    const deleted = fold(d, [created(true), admitted('vm1', 'h1'), ...events]);
    assert.deepEqual(d.decide({ type: 'DeletePlacementGroup', view: view({ vm1: [] }) }, deleted), []);
    assert.throws(() => d.decide(admit('vm3', 'h2'), deleted), /not found/);
  });
});
