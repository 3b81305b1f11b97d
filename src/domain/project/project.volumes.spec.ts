import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { given } from '../../../test/support/decider-spec.js';
import type { ProjectCommand } from './project.commands.js';
import { projectDecider, projectUsage } from './project.decider.js';
import type { ProjectEvent } from './project.events.js';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const at = (ms: number) => new Date(T0 + ms).toISOString();
const created = (quotas: Record<string, number>): ProjectEvent => ({
  type: 'ProjectCreated',
  data: { name: 'team-a', quotas },
});
const admitted = (volumeId: string, sizeGiB: number, ms = 0): ProjectEvent => ({
  type: 'ProjectVolumeAdmitted',
  data: { volumeId, sizeGiB, at: at(ms) },
});
const admit = (
  volumeId: string,
  sizeGiB: number,
  settledVolumes: Record<string, number | null> = {},
  ms = 0,
  settled: Record<string, { vcpus: number; memoryMiB: number; diskGiB: number } | null> = {},
): ProjectCommand => ({
  type: 'AdmitVolume',
  project: 'team-a',
  volumeId,
  sizeGiB,
  settled,
  settledVolumes,
  at: at(ms),
  inFlightMs: 60_000,
});
const project = (history: ProjectEvent[]) => given(projectDecider, history);

describe('project decider: volumes count against diskGiB', () => {
  test('admits a volume that fits, recording its size', () => {
    project([created({ diskGiB: 10 })])
      .when(admit('v-1', 4, { 'v-0': 6 }))
      .then([admitted('v-1', 4)]);
  });

  test('refuses one past diskGiB, counting VM disks and volumes, with the v1 429 details', () => {
    const err = project([created({ diskGiB: 10 })])
      .when(admit('v-1', 4, { 'v-0': 3 }, 0, { 'vm-1': { vcpus: 1, memoryMiB: 256, diskGiB: 4 } }))
      .thenThrows('quota', /uses 7 of its 10 diskGiB; this volume needs 4 more/);
    assert.deepEqual(err.details, { project: 'team-a', quota: 'diskGiB', used: 7, requested: 4, limit: 10 });
  });

  test('a project without a diskGiB limit records nothing; an unknown one is not found', () => {
    project([created({ vms: 1 })])
      .when(admit('v-1', 100))
      .thenNothing();
    given(projectDecider, [])
      .when(admit('v-1', 1))
      .thenThrows('not_found', /team-a/);
  });

  test('a grow requests only the difference', () => {
    project([created({ diskGiB: 10 })])
      .when(admit('v-1', 9, { 'v-1': 5 }))
      .then([admitted('v-1', 9)]);
    const err = project([created({ diskGiB: 10 })])
      .when(admit('v-1', 12, { 'v-1': 5 }))
      .thenThrows('quota', /uses 5 of its 10 diskGiB; this volume needs 7 more/);
    assert.equal(err.details?.requested, 7);
  });

  test('admissions the read model does not show yet count while in flight (concurrent creates)', () => {
    const history = [created({ diskGiB: 9 }), admitted('v-1', 3), admitted('v-2', 3), admitted('v-3', 3)];
    project(history)
      .when(admit('v-4', 3, {}, 1000))
      .thenThrows('quota', /uses 9 of its 9/);
    project(history)
      .when(admit('v-4', 3, {}, 61_000))
      .then([admitted('v-4', 3, 61_000)]);
  });

  test('VM admissions see volumes too', () => {
    project([created({ diskGiB: 10 }), admitted('v-1', 8)])
      .when({
        type: 'AdmitVm',
        project: 'team-a',
        vmId: 'vm-1',
        footprint: { vcpus: 1, memoryMiB: 256, diskGiB: 4 },
        settled: {},
        at: at(10),
        inFlightMs: 60_000,
      })
      .thenThrows('quota', /uses 8 of its 10 diskGiB/);
  });

  test('a deleted volume or a failed create (settled null) frees its size, even while admitted', () => {
    const state = project([created({ diskGiB: 10 }), admitted('v-1', 8)]).state;
    const usage = (settledVolumes: Record<string, number | null>) =>
      projectUsage(state, { settled: {}, settledVolumes, at: at(10), inFlightMs: 60_000 }).diskGiB;
    assert.equal(usage({}), 8);
    assert.equal(usage({ 'v-1': 8 }), 8, 'counted once');
    assert.equal(usage({ 'v-1': null }), 0);
  });

  test('the same size admitted again decides nothing; a release gives the room back once', () => {
    project([created({ diskGiB: 10 }), admitted('v-1', 4)])
      .when(admit('v-1', 4))
      .thenNothing();
    const release: ProjectCommand = { type: 'ReleaseVolumeAdmission', project: 'team-a', volumeId: 'v-1', at: at(5) };
    project([created({ diskGiB: 10 }), admitted('v-1', 4)])
      .when(release)
      .then([{ type: 'ProjectVolumeReleased', data: { volumeId: 'v-1', at: at(5) } }]);
    project([
      created({ diskGiB: 10 }),
      admitted('v-1', 4),
      { type: 'ProjectVolumeReleased', data: { volumeId: 'v-1', at: at(5) } },
    ])
      .when(release)
      .thenNothing();
  });
});
