import assert from 'node:assert/strict';
import { after, beforeEach, describe, test } from 'node:test';
import { hostDecider } from '../domain/host/host.decider.js';
import { hostStream } from '../domain/streams.js';
import type { EventStore } from '../eventstore/event-store.port.js';
import { tempSqliteStore } from '../../test/support/recording-store.js';
import { handleCommand, type CommandMeta } from './handle-command.js';
import { AggregateLoader } from './load-aggregate.js';
import { HostDirectory, placeVm, type PlacementRequest, type PlacementResult } from './placement.js';
import { allocatedVmIds } from '../domain/host/allocations.js';

const META: CommandMeta = { principal: 'saga', correlationId: 'op', causationId: 'ev' };
const request = (o: Partial<PlacementRequest> = {}): PlacementRequest => ({
  vmId: 'vm-1',
  operationId: 'op-1',
  requestedHostId: null,
  vcpus: 2,
  memoryMiB: 1024,
  ...o,
});

const hostOf = (r: PlacementResult): string | undefined => (r.ok ? r.hostId : undefined);

describe('placeVm', () => {
  const cleanups: Array<() => Promise<void>> = [];
  let store: EventStore;
  let loader: AggregateLoader;
  let hosts: HostDirectory;

  const register = (hostId: string, vcpus: number, memoryMiB: number) =>
    handleCommand(
      loader,
      hostDecider,
      hostStream(hostId),
      {
        type: 'RegisterHost',
        hostId,
        name: hostId,
        driver: 'simulated',
        uri: 'sim://',
        capacity: { vcpus, memoryMiB },
      },
      META,
    );
  const allocationsOf = async (hostId: string) =>
    allocatedVmIds((await new AggregateLoader(store).load(hostDecider, hostStream(hostId))).state.allocations);

  beforeEach(async () => {
    const tmp = await tempSqliteStore();
    cleanups.push(tmp.cleanup);
    store = tmp.store;
    loader = new AggregateLoader(store);
    hosts = new HostDirectory(store);
  });
  after(async () => {
    for (const c of cleanups) await c();
  });

  test('picks the host with the most free memory and reserves the VM there', async () => {
    await register('small', 16, 2048);
    await register('big', 16, 8192);
    await register('medium', 16, 4096);
    const placed = await placeVm(loader, hosts, request(), META);
    assert.deepEqual({ ok: placed.ok, hostId: placed.ok && placed.hostId }, { ok: true, hostId: 'big' });
    // Every host considered is in the evidence: the chosen one first, then why the others were not.
    assert.deepEqual(
      placed.evidence.candidates.map((c) => [c.hostId, c.verdict, c.reason]),
      [
        ['big', 'chosen', undefined],
        ['medium', 'refused', 'ranking'],
        ['small', 'refused', 'ranking'],
      ],
    );
    assert.deepEqual(await allocationsOf('big'), ['vm-1']);
    assert.deepEqual(await allocationsOf('medium'), []);
  });

  test('free memory, not capacity: a big host that is nearly full loses to an emptier one', async () => {
    await register('big', 16, 8192);
    await register('medium', 16, 4096);
    await placeVm(loader, hosts, request({ vmId: 'hog', memoryMiB: 6144 }), META);
    assert.equal(hostOf(await placeVm(loader, hosts, request(), META)), 'medium');
  });

  test('honours a pinned host even when another has more room', async () => {
    await register('big', 16, 8192);
    await register('small', 16, 2048);
    assert.equal(hostOf(await placeVm(loader, hosts, request({ requestedHostId: 'small' }), META)), 'small');
    assert.deepEqual(await allocationsOf('big'), []);
  });

  test('a pinned host without room is refused with its reason; no other host is tried', async () => {
    await register('big', 16, 8192);
    await register('small', 1, 512);
    const result = await placeVm(loader, hosts, request({ requestedHostId: 'small' }), META);
    assert.equal(result.ok, false);
    assert.match(!result.ok ? result.reason : '', /host small \(small\) has 1 vCPUs and 512 MiB free/);
    assert.deepEqual(await allocationsOf('big'), []);
  });

  test('refuses with a reason naming every host when nothing fits', async () => {
    await register('a', 1, 512);
    await register('b', 4, 768);
    const result = await placeVm(loader, hosts, request(), META);
    assert.deepEqual(result.ok, false);
    const reason = !result.ok ? result.reason : '';
    assert.match(reason, /^no host can take 2 vCPUs and 1024 MiB: /);
    assert.match(reason, /host a \(a\)/);
    assert.match(reason, /host b \(b\)/);
    assert.deepEqual(
      result.evidence.candidates.map((c) => [c.hostId, c.verdict, c.reason]),
      [
        ['b', 'refused', 'capacity'],
        ['a', 'refused', 'capacity'],
      ],
    );
  });

  test('a draining host is refused as draining, and the evidence says so', async () => {
    await register('big', 16, 8192);
    await register('small', 16, 2048);
    await handleCommand(loader, hostDecider, hostStream('big'), { type: 'SetHostState', state: 'draining' }, META);
    const result = await placeVm(loader, hosts, request(), META);
    assert.equal(hostOf(result), 'small');
    const big = result.evidence.candidates.find((c) => c.hostId === 'big');
    assert.equal(big?.reason, 'draining');
    assert.match(big?.detail ?? '', /draining/);
  });

  test('no host registered, or a pinned host unknown: refused saying so', async () => {
    assert.deepEqual(await placeVm(loader, hosts, request(), META), {
      ok: false,
      reason: 'no host is registered; register one with POST /v1/hosts',
      evidence: { kind: 'placement', candidates: [] },
    });
    assert.deepEqual(await placeVm(loader, hosts, request({ requestedHostId: 'ghost' }), META), {
      ok: false,
      reason: 'host ghost is not registered',
      evidence: {
        kind: 'placement',
        candidates: [
          { hostId: 'ghost', verdict: 'refused', reason: 'not-registered', detail: 'host ghost is not registered' },
        ],
      },
    });
  });

  test('the host directory picks up hosts registered after its first look', async () => {
    await register('first', 16, 2048);
    assert.deepEqual(await hosts.list(), ['first']);
    await register('second', 16, 8192);
    assert.deepEqual(await hosts.list(), ['first', 'second']);
    assert.equal(hostOf(await placeVm(loader, hosts, request(), META)), 'second');
  });

  test('pages the saga runner observed list their hosts without a store read; a page with a gap is not taken', async () => {
    const first = (await register('first', 16, 2048)).events.at(-1)!.position;
    assert.deepEqual(await hosts.list(), ['first']);
    const second = (await register('second', 16, 8192)).events;
    const third = (await register('third', 16, 4096)).events;
    let reads = 0;
    const counted = (m: 'readAll' | 'headPosition') => {
      const original = store[m].bind(store) as (...a: unknown[]) => Promise<unknown>;
      (store as unknown as Record<string, unknown>)[m] = (...a: unknown[]) => (reads++, original(...a));
    };
    counted('readAll');
    counted('headPosition');
    // The third host's page does not join what the directory read (the second's is missing): ignored.
    hosts.observe(second[second.length - 1]!.position, third);
    hosts.observe(first, second);
    const through = second[second.length - 1]!.position;
    assert.deepEqual(await hosts.list(through), ['first', 'second']);
    assert.equal(reads, 0);
    // Past what was observed, the store is read as before and finds the third.
    assert.deepEqual(await hosts.list(third[third.length - 1]!.position), ['first', 'second', 'third']);
    assert.ok(reads > 0);
  });
});
