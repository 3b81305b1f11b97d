import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { describeRefusals, rankHosts, rankingEvidence, type RankedHost } from './host-ranking.js';

const host = (id: string, memoryMiB: number, o: Partial<RankedHost> = {}): RankedHost => ({
  id,
  name: `${id}-name`,
  driver: 'simulated',
  state: 'active',
  unreachable: false,
  labels: {},
  free: { vcpus: 8, memoryMiB },
  ...o,
});

describe('rankHosts', () => {
  test('spread: most free memory first; pack: the fullest that fits first', () => {
    const hosts = [host('a', 2048), host('b', 8192), host('c', 1024), host('tiny', 256)];
    const req = { vcpus: 1, memoryMiB: 512 };
    assert.deepEqual(
      rankHosts(hosts, req).eligible.map((e) => e.id),
      ['b', 'a', 'c'],
    );
    assert.deepEqual(
      rankHosts(hosts, { ...req, strategy: 'pack' }).eligible.map((e) => e.id),
      ['c', 'a', 'b'],
    );
    assert.deepEqual(rankHosts(hosts, req).refused, [
      { id: 'tiny', name: 'tiny-name', reason: 'memory 256 < 512', kind: 'capacity' },
    ]);
  });

  test('every other host is named with why: draining, unreachable, memory, vcpus, label', () => {
    const hosts = [
      host('d', 8192, { state: 'draining' }),
      host('u', 8192, { unreachable: true }),
      host('m', 512),
      host('v', 8192, { free: { vcpus: 1, memoryMiB: 8192 } }),
      host('z', 8192, { labels: { zone: 'b' } }),
      host('n', 8192),
    ];
    const r = rankHosts(hosts, { vcpus: 2, memoryMiB: 1024, hostSelector: { zone: 'a' } });
    assert.deepEqual(r.eligible, []);
    assert.deepEqual(
      r.refused.map((x) => [x.id, x.reason]),
      [
        ['d', 'draining'],
        ['u', 'unreachable'],
        ['m', 'label zone=(none) != a'],
        ['v', 'label zone=(none) != a'],
        ['z', 'label zone=b != a'],
        ['n', 'label zone=(none) != a'],
      ],
    );
    const plain = rankHosts(hosts.slice(2, 4), { vcpus: 2, memoryMiB: 1024 });
    assert.deepEqual(
      plain.refused.map((x) => x.reason),
      ['memory 512 < 1024', 'vcpus 1 < 2'],
    );
    assert.match(describeRefusals(plain.refused), /^m-name \(m\): memory 512 < 1024; v-name \(v\): vcpus 1 < 2$/);
  });

  test('hard anti-affinity excludes a host with a member; soft only orders it last and the evidence says so', () => {
    const hosts = [host('a', 8192), host('b', 4096)];
    const group = { name: 'web', policy: 'anti-affinity' as const, strict: true, members: { a: ['web-1'] } };
    const hard = rankHosts(hosts, { vcpus: 1, memoryMiB: 256, group });
    assert.deepEqual(
      hard.eligible.map((e) => e.id),
      ['b'],
    );
    assert.deepEqual(hard.refused, [
      { id: 'a', name: 'a-name', reason: 'anti-affinity: runs web-1', kind: 'affinity' },
    ]);

    const full = { ...group, members: { a: ['web-1'], b: ['web-2'] } };
    assert.deepEqual(rankHosts(hosts, { vcpus: 1, memoryMiB: 256, group: full }).eligible, []);
    const softReq = { vcpus: 1, memoryMiB: 256, group: { ...full, strict: false } };
    const soft = rankHosts(hosts, softReq);
    assert.deepEqual(
      soft.eligible.map((e) => [e.id, e.preferred]),
      [
        ['a', false],
        ['b', false],
      ],
    );
    const chosen = rankingEvidence(soft, 'a', softReq).find((c) => c.verdict === 'chosen');
    assert.match(chosen?.detail ?? '', /soft anti-affinity of group web broken/);
    const preferred = rankHosts(hosts, { vcpus: 1, memoryMiB: 256, group: { ...group, strict: false } });
    assert.deepEqual(
      preferred.eligible.map((e) => [e.id, e.preferred]),
      [
        ['b', true],
        ['a', false],
      ],
    );
  });

  test('hard affinity: only the host the members run on; an empty group may go anywhere', () => {
    const hosts = [host('a', 8192), host('b', 4096)];
    const group = { name: 'db', policy: 'affinity' as const, strict: true, members: { b: ['db-1'] } };
    const r = rankHosts(hosts, { vcpus: 1, memoryMiB: 256, group });
    assert.deepEqual(
      r.eligible.map((e) => e.id),
      ['b'],
    );
    assert.deepEqual(
      r.refused.map((x) => x.reason),
      ['affinity: group db runs on b'],
    );
    assert.deepEqual(
      rankHosts(hosts, { vcpus: 1, memoryMiB: 256, group: { ...group, members: {} } }).eligible.map((e) => e.id),
      ['a', 'b'],
    );
  });

  test('a fenced host takes nothing (named as fenced)', () => {
    const r = rankHosts([host('f', 8192, { fenced: true }), host('ok', 1024)], { vcpus: 1, memoryMiB: 256 });
    assert.deepEqual(
      r.eligible.map((e) => e.id),
      ['ok'],
    );
    assert.deepEqual(r.refused, [{ id: 'f', name: 'f-name', reason: 'fenced', kind: 'fenced' }]);
  });

  test('a migration never targets its source nor another driver', () => {
    const hosts = [host('src', 8192), host('lv', 8192, { driver: 'libvirt' }), host('ok', 1024)];
    const r = rankHosts(hosts, { vcpus: 1, memoryMiB: 256, excludeHostId: 'src', driver: 'simulated' });
    assert.deepEqual(
      r.eligible.map((e) => e.id),
      ['ok'],
    );
    assert.deepEqual(
      r.refused.map((x) => [x.id, x.reason]),
      [
        ['src', 'the VM is leaving it'],
        ['lv', 'driver libvirt != simulated'],
      ],
    );
  });
});
