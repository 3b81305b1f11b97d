import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { initialHostState, type HostState } from '../domain/host/host.state.js';
import type { Resources } from '../domain/host/host.events.js';
import { chooseMigrationTarget, internalSnapshotsTravel, sameStorage } from './migration-targets.js';

const host = (id: string, over: Partial<HostState> = {}): HostState => ({
  ...initialHostState(),
  exists: true,
  id,
  name: id,
  driver: 'simulated',
  uri: 'simulated://',
  capacity: { vcpus: 4, memoryMiB: 4096 },
  ...over,
});
const need: Resources = { vcpus: 1, memoryMiB: 1024 };

describe('chooseMigrationTarget', () => {
  test('most free memory first, never the source, a draining or removed host, or another driver', () => {
    const hosts = [
      host('src', { capacity: { vcpus: 64, memoryMiB: 65536 } }),
      host('small', { capacity: { vcpus: 4, memoryMiB: 2048 } }),
      host('big'),
      host('drained', { state: 'draining', capacity: { vcpus: 64, memoryMiB: 65536 } }),
      host('gone', { removed: true, capacity: { vcpus: 64, memoryMiB: 65536 } }),
      host('qemu', { driver: 'qemu', capacity: { vcpus: 64, memoryMiB: 65536 } }),
    ];
    assert.deepEqual(chooseMigrationTarget(hosts, 'src', 'simulated', need), { ok: true, hostId: 'big' });
  });

  test('what earlier choices planned counts: an evacuation spreads over the hosts', () => {
    const hosts = [host('a'), host('b')];
    const planned = new Map<string, Resources>();
    const picks = [1, 2, 3, 4, 5, 6, 7, 8].map(() => chooseMigrationTarget(hosts, 'src', 'simulated', need, planned));
    assert.ok(picks.every((p) => p.ok));
    const on = (id: string) => picks.filter((p) => p.ok && p.hostId === id).length;
    assert.equal(on('a'), 4);
    assert.equal(on('b'), 4);
    const ninth = chooseMigrationTarget(hosts, 'src', 'simulated', need, planned);
    assert.equal(ninth.ok, false);
    assert.match(
      ninth.ok ? '' : ninth.reason,
      /no host can take 1 vCPUs and 1024 MiB: a \(a\) has 0 vCPUs and 0 MiB free; b \(b\)/,
    );
  });

  test('nothing else registered → says so', () => {
    const r = chooseMigrationTarget([host('src')], 'src', 'simulated', need);
    assert.deepEqual(r, { ok: false, reason: 'no host can take 1 vCPUs and 1024 MiB: no other host is registered' });
  });
});

describe('sameStorage', () => {
  test('only the same explicit storage dir is shared', () => {
    assert.equal(sameStorage('qemu:///system?storage=/srv/vm', 'qemu:///system?storage=/srv/vm'), true);
    assert.equal(sameStorage('qemu:///system?storage=/srv/a', 'qemu:///system?storage=/srv/b'), false);
    assert.equal(sameStorage('qemu:///system', 'qemu:///system'), false);
  });
});

describe('internalSnapshotsTravel', () => {
  test('qemu and libvirt copy the active layer only, unless the storage is shared; others carry them', () => {
    const q = (storage?: string) => ({ driver: 'qemu', uri: `qemu:///system${storage ? `?storage=${storage}` : ''}` });
    assert.equal(internalSnapshotsTravel(q('/a'), q('/b')), false);
    assert.equal(internalSnapshotsTravel(q('/s'), q('/s')), true);
    assert.equal(
      internalSnapshotsTravel(
        { driver: 'libvirt', uri: 'qemu:///system' },
        { driver: 'libvirt', uri: 'qemu+tcp://h2/system' },
      ),
      false,
    );
    assert.equal(
      internalSnapshotsTravel(
        { driver: 'simulated', uri: 'simulated://' },
        { driver: 'simulated', uri: 'simulated://' },
      ),
      true,
    );
  });
});
