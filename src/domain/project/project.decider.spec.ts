import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { given } from '../../../test/support/decider-spec.js';
import type { ProjectCommand } from './project.commands.js';
import { projectDecider, projectUsage } from './project.decider.js';
import type { ProjectEvent } from './project.events.js';
import { KEEP_ADMISSIONS_MS } from './project.state.js';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const at = (ms: number) => new Date(T0 + ms).toISOString();
const small = { vcpus: 1, memoryMiB: 256, diskGiB: 2 };

const created = (quotas: Record<string, number> = {}, name = 'team-a'): ProjectEvent => ({
  type: 'ProjectCreated',
  data: { name, quotas },
});
const admitted = (vmId: string, ms = 0): ProjectEvent => ({
  type: 'ProjectVmAdmitted',
  data: { vmId, at: at(ms), ...small },
});
const admit = (
  vmId: string,
  settled: Record<string, typeof small | null> = {},
  ms = 0,
  project = 'team-a',
): ProjectCommand => ({
  type: 'AdmitVm',
  project,
  vmId,
  footprint: small,
  settled,
  at: at(ms),
  inFlightMs: 60_000,
});
const project = (history: ProjectEvent[]) => given(projectDecider, history);

describe('project decider: create and quotas', () => {
  test('creates a project with its quotas', () => {
    project([])
      .when({ type: 'CreateProject', name: 'team-a', quotas: { vms: 2 } })
      .then([created({ vms: 2 })]);
  });

  test('refuses to create a project twice, and `default`, which always exists', () => {
    project([created()])
      .when({ type: 'CreateProject', name: 'team-a', quotas: {} })
      .thenThrows('conflict', /already exists/);
    project([])
      .when({ type: 'CreateProject', name: 'default', quotas: {} })
      .thenThrows('conflict', /already exists/);
  });

  test('changing quotas keeps the absent ones, removes the null ones; the same quotas decide nothing', () => {
    project([created({ vms: 2, vcpus: 4 })])
      .when({ type: 'ChangeQuotas', name: 'team-a', quotas: { vms: 5, vcpus: null } })
      .then([{ type: 'ProjectQuotasChanged', data: { name: 'team-a', quotas: { vms: 5 } } }]);
    project([created({ vms: 2 })])
      .when({ type: 'ChangeQuotas', name: 'team-a', quotas: { vms: 2 } })
      .thenNothing();
  });

  test('quotas of an unknown project: not found; of `default`: recorded on first change', () => {
    project([])
      .when({ type: 'ChangeQuotas', name: 'team-b', quotas: { vms: 1 } })
      .thenThrows('not_found', /project team-b not found/);
    project([])
      .when({ type: 'ChangeQuotas', name: 'default', quotas: { vms: 1 } })
      .then([{ type: 'ProjectQuotasChanged', data: { name: 'default', quotas: { vms: 1 } } }]);
  });
});

describe('project decider: admitting VMs', () => {
  test('an unlimited project (and the implicit default) admits without recording anything', () => {
    project([created()]).when(admit('vm-1')).thenNothing();
    project([])
      .when(admit('vm-1', {}, 0, 'default'))
      .thenNothing();
  });

  test('an unknown project admits nothing', () => {
    project([])
      .when(admit('vm-1'))
      .thenThrows('not_found', /project team-a not found/);
  });

  test('admits within the quota, recording the footprint', () => {
    project([created({ vms: 2 })])
      .when(admit('vm-2', { 'vm-1': small }))
      .then([admitted('vm-2')]);
  });

  test('refuses past each quota, naming it with used and limit', () => {
    const cases: Array<[Record<string, number>, RegExp]> = [
      [{ vms: 1 }, /uses 1 of its 1 vms/],
      [{ vcpus: 1 }, /uses 1 of its 1 vcpus/],
      [{ memoryMiB: 300 }, /uses 256 of its 300 memoryMiB; this VM needs 256 more/],
      [{ diskGiB: 3 }, /uses 2 of its 3 diskGiB/],
    ];
    for (const [quotas, message] of cases) {
      const err = project([created(quotas)])
        .when(admit('vm-2', { 'vm-1': small }))
        .thenThrows('quota', message);
      assert.equal(err.details?.quota, Object.keys(quotas)[0]);
    }
  });

  test('deleted VMs and VMs that failed placement (settled as null) do not count', () => {
    project([created({ vms: 1 })])
      .when(admit('vm-2', { 'vm-1': null }))
      .then([admitted('vm-2')]);
  });

  test('an admission the read model does not show yet counts while in flight, then no more', () => {
    const history = [created({ vms: 1 }), admitted('vm-1', 0)];
    project(history)
      .when(admit('vm-2', {}, 1000))
      .thenThrows('quota', /vms/);
    project(history)
      .when(admit('vm-2', {}, 61_000))
      .then([admitted('vm-2', 61_000)]);
  });

  test('an admission the read model settled is counted once, from the read model', () => {
    const state = project([created({ vms: 2 }), admitted('vm-1', 0)]).state;
    assert.equal(projectUsage(state, { settled: { 'vm-1': small }, at: at(10), inFlightMs: 60_000 }).vms, 1);
    assert.equal(projectUsage(state, { settled: { 'vm-1': null }, at: at(10), inFlightMs: 60_000 }).vms, 0);
  });

  test('admitting the same VM again decides nothing', () => {
    project([created({ vms: 1 }), admitted('vm-1', 0)])
      .when(admit('vm-1', {}, 10))
      .thenNothing();
  });

  test('old admissions are dropped from the state, so it stays small', () => {
    const state = project([created({ vms: 9 }), admitted('vm-1', 0), admitted('vm-2', KEEP_ADMISSIONS_MS + 1)]).state;
    assert.deepEqual(
      state.admissions.map((a) => a.vmId),
      ['vm-2'],
    );
  });
});
