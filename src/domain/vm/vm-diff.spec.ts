import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { countAt, parseIsoInstant, parsePointInTime } from '../../http/point-in-time.js';
import type { VmEvent } from './vm.events.js';
import { initialVmState } from './vm.state.js';
import {
  diffFlat,
  flattenVm,
  foldVm,
  sameJson,
  vmChanges,
  type FieldChange,
  type FlatState,
  type HistoryEvent,
  type JsonValue,
} from './vm-diff.js';

const VM = 'vm-1';
const T0 = Date.parse('2030-01-01T00:00:00.000Z');
const SPEC = { name: 'web-1', vcpus: 2, memoryMiB: 2048, diskGiB: 20 };

/** A stream of recorded events: revision i at T0 + i seconds, position 100 + i, one principal per operation. */
function history(events: VmEvent[], meta: Partial<HistoryEvent['metadata']>[] = []): HistoryEvent[] {
  return events.map((e, i) => ({
    id: `ev-${i}`,
    position: BigInt(100 + i),
    revision: BigInt(i),
    type: e.type,
    data: e.data as Record<string, unknown>,
    metadata: {
      at: new Date(T0 + i * 1000).toISOString(),
      principal: 'operator#abc',
      correlationId: (e.data as { operationId?: string }).operationId ?? 'none',
      ...meta[i],
    },
  }));
}

const created: VmEvent = {
  type: 'VmCreateRequested',
  data: { vmId: VM, operationId: 'op-c', spec: SPEC, requestedHostId: null, start: true },
};
const placed = (hostId: string): VmEvent => ({ type: 'VmPlaced', data: { operationId: 'op-c', hostId } });
const defined = (hostId: string): VmEvent => ({ type: 'VmDefined', data: { operationId: 'op-c', hostId } });
const started = (op = 'op-c'): VmEvent => ({ type: 'VmStarted', data: { operationId: op } });
const stopReq = (op: string): VmEvent => ({ type: 'VmStopRequested', data: { operationId: op, force: false } });
const stopped = (op: string): VmEvent => ({ type: 'VmStopped', data: { operationId: op } });
const startReq = (op: string): VmEvent => ({ type: 'VmStartRequested', data: { operationId: op } });
const snapReq = (op: string, name: string): VmEvent => ({
  type: 'VmSnapshotRequested',
  data: { operationId: op, name, memory: true },
});
const snapTaken = (op: string, name: string, createdAt: string): VmEvent => ({
  type: 'VmSnapshotTaken',
  data: { operationId: op, name, memory: true, createdAt },
});
const snapDelReq = (op: string, name: string): VmEvent => ({
  type: 'VmSnapshotDeleteRequested',
  data: { operationId: op, name },
});
const snapDeleted = (op: string, name: string): VmEvent => ({
  type: 'VmSnapshotDeleted',
  data: { operationId: op, name },
});

const CREATE_AND_START = [created, placed('host-a'), defined('host-a'), started()];

/** Every leaf under `path` of a value (records walked, anything else one leaf). */
function leaves(path: string, v: JsonValue, out = new Map<string, JsonValue>()): Map<string, JsonValue> {
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) leaves(`${path}.${k}`, x, out);
  } else if (v !== null) out.set(path, v);
  return out;
}

function allLeaves(flat: FlatState): Map<string, JsonValue> {
  const out = new Map<string, JsonValue>();
  for (const [path, v] of flat) for (const [p, x] of leaves(path, v)) out.set(p, x);
  return new Map([...out].sort(([a], [b]) => a.localeCompare(b)));
}

/** Applies changes the way a reader of the diff would: a change replaces everything under its path. */
function replay(start: FlatState, changes: FieldChange[]): Map<string, JsonValue> {
  const state = allLeaves(start);
  for (const c of changes) {
    const under = [...state].filter(([p]) => p === c.path || p.startsWith(`${c.path}.`));
    assert.deepEqual(new Map(under), leaves(c.path, c.old), `${c.path}: old value is what came before`);
    for (const [p] of under) state.delete(p);
    for (const [p, x] of leaves(c.path, c.new)) state.set(p, x);
  }
  return new Map([...state].sort(([a], [b]) => a.localeCompare(b)));
}

const of = (changes: FieldChange[], path: string) => changes.filter((c) => c.path === path);

describe('vm diff: flattening the state', () => {
  test('a VM that does not exist has no fields', () => {
    assert.equal(flattenVm(initialVmState()).size, 0);
  });

  test('nested objects become dotted leaves; null fields and `exists` are left out', () => {
    const flat = flattenVm(foldVm(history([created])));
    assert.equal(flat.get('spec.memoryMiB'), 2048);
    assert.equal(flat.get('spec.name'), 'web-1');
    assert.equal(flat.get('state'), 'requested');
    assert.equal(flat.get('pending.kind'), 'create');
    assert.equal(flat.has('spec'), false);
    assert.equal(flat.has('hostId'), false, 'hostId is null before placement');
    assert.equal(flat.has('exists'), false);
  });

  test('snapshots are keyed by name, each one value', () => {
    const flat = flattenVm(
      foldVm(history([...CREATE_AND_START, snapReq('op-s', 's1'), snapTaken('op-s', 's1', '2030-01-01T00:00:09Z')])),
    );
    assert.deepEqual(flat.get('snapshots.s1'), { name: 's1', memory: true, createdAt: '2030-01-01T00:00:09Z' });
    assert.equal(flat.has('snapshots'), false);
  });

  test('sameJson ignores key order and undefined keys, not values', () => {
    assert.ok(sameJson({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1 }));
    assert.ok(!sameJson({ a: 1 }, { a: 2 }));
    assert.ok(!sameJson([1, 2], [2, 1]));
    assert.ok(!sameJson({ a: 1 }, { a: 1, b: 2 }));
    assert.ok(!sameJson(null, 0));
    assert.ok(!sameJson('1', 1));
  });

  test('diffFlat: added, removed and changed paths, sorted; equal ones left out', () => {
    const before: FlatState = new Map<string, JsonValue>([
      ['a', 1],
      ['b', 'x'],
      ['c', { n: 1 }],
    ]);
    const after: FlatState = new Map<string, JsonValue>([
      ['c', { n: 1 }],
      ['b', 'y'],
      ['d', true],
    ]);
    assert.deepEqual(diffFlat(before, after), [
      { path: 'a', old: 1, new: null },
      { path: 'b', old: 'x', new: 'y' },
      { path: 'd', old: null, new: true },
    ]);
  });
});

describe('vm diff: changes over a history', () => {
  test('from the empty state, the first event lists every field with old null', () => {
    const events = history([created]);
    const changes = vmChanges(initialVmState(), events);
    const flat = flattenVm(foldVm(events));
    assert.deepEqual(
      changes.map((c) => c.path),
      [...flat.keys()].sort(),
    );
    for (const c of changes) {
      assert.equal(c.old, null);
      assert.deepEqual(c.new, flat.get(c.path));
      assert.equal(c.event.revision, 0);
      assert.equal(c.event.type, 'VmCreateRequested');
    }
  });

  test('each change names its event: id, position, revision, type, at, principal, correlationId, reason', () => {
    const events = history(CREATE_AND_START, [{}, { principal: 'saga', reason: 'placement' }]);
    const [host] = of(vmChanges(initialVmState(), events), 'hostId');
    assert.deepEqual(host, {
      path: 'hostId',
      old: null,
      new: 'host-a',
      event: {
        id: 'ev-1',
        position: '101',
        revision: 1,
        type: 'VmPlaced',
        at: new Date(T0 + 1000).toISOString(),
        principal: 'saga',
        correlationId: 'op-c',
        reason: 'placement',
      },
    });
  });

  test('a field changed several times appears once per change, oldest first, each with its own event', () => {
    const events = history([
      ...CREATE_AND_START,
      stopReq('op-1'),
      stopped('op-1'),
      startReq('op-2'),
      started('op-2'),
      stopReq('op-3'),
      stopped('op-3'),
    ]);
    const state = of(vmChanges(initialVmState(), events), 'state');
    assert.deepEqual(
      state.map((c) => [c.old, c.new, c.event.type, c.event.revision]),
      [
        [null, 'requested', 'VmCreateRequested', 0],
        ['requested', 'provisioning', 'VmPlaced', 1],
        ['provisioning', 'stopped', 'VmDefined', 2],
        ['stopped', 'running', 'VmStarted', 3],
        ['running', 'stopped', 'VmStopped', 5],
        ['stopped', 'running', 'VmStarted', 7],
        ['running', 'stopped', 'VmStopped', 9],
      ],
    );
  });

  test('starting mid-history: only the events given, against the state before them', () => {
    const all = history([...CREATE_AND_START, stopReq('op-1'), stopped('op-1')]);
    const start = foldVm(all.slice(0, 4));
    const changes = vmChanges(start, all.slice(4));
    assert.ok(changes.every((c) => c.event.revision >= 4));
    assert.deepEqual(
      of(changes, 'state').map((c) => [c.old, c.new]),
      [['running', 'stopped']],
    );
  });

  test('an operation opened or closed is one change (`pending`, its whole value); one in flight changes field by field', () => {
    const all = history([
      ...CREATE_AND_START,
      stopReq('op-1'),
      { type: 'VmOperationRunning', data: { operationId: 'op-1', step: 'stop' } },
      stopped('op-1'),
    ]);
    const changes = vmChanges(foldVm(all.slice(0, 4)), all.slice(4));
    assert.deepEqual(
      changes.map((c) => [c.event.type, c.path, c.old, c.new]),
      [
        [
          'VmStopRequested',
          'pending',
          null,
          { id: 'op-1', kind: 'stop', awaiting: 'stop', running: false, stateBefore: 'running', force: false },
        ],
        ['VmOperationRunning', 'pending.running', false, true],
        [
          'VmStopped',
          'pending',
          { id: 'op-1', kind: 'stop', awaiting: 'stop', running: true, stateBefore: 'running', force: false },
          null,
        ],
        ['VmStopped', 'state', 'running', 'stopped'],
      ],
    );
  });

  test('snapshots: taken, taken again under the same name, deleted', () => {
    const events = history([
      ...CREATE_AND_START,
      snapReq('op-s1', 's1'),
      snapTaken('op-s1', 's1', '2030-01-01T00:00:05Z'),
      snapReq('op-s2', 's1'),
      snapTaken('op-s2', 's1', '2030-01-01T00:00:07Z'),
      snapDelReq('op-d', 's1'),
      snapDeleted('op-d', 's1'),
    ]);
    const s1 = of(vmChanges(initialVmState(), events), 'snapshots.s1');
    assert.deepEqual(
      s1.map((c) => [c.old, c.new, c.event.revision]),
      [
        [null, { name: 's1', memory: true, createdAt: '2030-01-01T00:00:05Z' }, 5],
        [
          { name: 's1', memory: true, createdAt: '2030-01-01T00:00:05Z' },
          { name: 's1', memory: true, createdAt: '2030-01-01T00:00:07Z' },
          7,
        ],
        [{ name: 's1', memory: true, createdAt: '2030-01-01T00:00:07Z' }, null, 9],
      ],
    );
  });

  test('a migration moves hostId, attributed to VmMigrated; a progress report changes nothing', () => {
    const events = history([
      ...CREATE_AND_START,
      {
        type: 'VmMigrationRequested',
        data: { operationId: 'op-m', sourceHostId: 'host-a', targetHostId: 'host-b', live: true },
      },
      {
        type: 'VmMigrationTargetPrepared',
        data: { operationId: 'op-m', targetHostId: 'host-b', endpoint: { host: '127.0.0.1', port: 4444 } },
      },
      { type: 'VmMigrationProgressed', data: { operationId: 'op-m', percent: 50 } },
      { type: 'VmMigrationHandedOff', data: { operationId: 'op-m', targetHostId: 'host-b' } },
      { type: 'VmMigrated', data: { operationId: 'op-m', sourceHostId: 'host-a', targetHostId: 'host-b' } },
    ]);
    const changes = vmChanges(initialVmState(), events);
    assert.deepEqual(
      of(changes, 'hostId').map((c) => [c.old, c.new, c.event.type]),
      [
        [null, 'host-a', 'VmPlaced'],
        ['host-a', 'host-b', 'VmMigrated'],
      ],
    );
    assert.deepEqual(
      changes.filter((c) => c.path.startsWith('migration')).map((c) => [c.path, c.old, c.new, c.event.type]),
      [
        [
          'migration',
          null,
          { sourceHostId: 'host-a', targetHostId: 'host-b', live: true, endpoint: null, handedOff: false },
          'VmMigrationRequested',
        ],
        ['migration.endpoint', null, { host: '127.0.0.1', port: 4444 }, 'VmMigrationTargetPrepared'],
        ['migration.handedOff', false, true, 'VmMigrationHandedOff'],
        [
          'migration',
          {
            sourceHostId: 'host-a',
            targetHostId: 'host-b',
            live: true,
            endpoint: { host: '127.0.0.1', port: 4444 },
            handedOff: true,
          },
          null,
          'VmMigrated',
        ],
      ],
    );
    assert.equal(changes.filter((c) => c.event.type === 'VmMigrationProgressed').length, 0);
  });

  test('an event type the VM does not know is skipped, not a crash', () => {
    const events = history([created]);
    events.push({ ...events[0]!, id: 'ev-x', revision: 1n, position: 200n, type: 'VmSomethingNew', data: {} });
    const changes = vmChanges(initialVmState(), events);
    assert.equal(changes.filter((c) => c.event.revision === 1).length, 0);
  });

  test('the changes, applied in order to the start, give exactly the end state (a long history)', () => {
    const events: VmEvent[] = [...CREATE_AND_START];
    for (let i = 0; i < 30; i++) {
      const op = `op-${i}`;
      if (i % 3 === 0)
        events.push(snapReq(op, `s${i % 4}`), snapTaken(op, `s${i % 4}`, `2030-01-0${1 + (i % 9)}T00:00:00Z`));
      else if (i % 3 === 1) events.push(stopReq(op), stopped(op));
      else events.push(startReq(op), started(op));
    }
    const all = history(events);
    for (const cut of [0, 1, 4, 17, all.length]) {
      const start = foldVm(all.slice(0, cut));
      const changes = vmChanges(start, all.slice(cut));
      assert.deepEqual(
        replay(flattenVm(start), changes),
        allLeaves(flattenVm(foldVm(all))),
        `from revision ${cut - 1}`,
      );
    }
  });
});

describe('points in a history', () => {
  const events = history(CREATE_AND_START);

  test('a revision counts the events up to and including it; past the head, all of them', () => {
    assert.equal(countAt(events, { kind: 'revision', revision: 0n }), 1);
    assert.equal(countAt(events, { kind: 'revision', revision: 2n }), 3);
    assert.equal(countAt(events, { kind: 'revision', revision: 99n }), 4);
  });

  test('an instant counts the events recorded at or before it', () => {
    const at = (ms: number) => ({ kind: 'time' as const, at: new Date(T0 + ms) });
    assert.equal(countAt(events, at(-1)), 0, 'before the first event');
    assert.equal(countAt(events, at(0)), 1, 'exactly at the first event includes it');
    assert.equal(countAt(events, at(1999)), 2);
    assert.equal(countAt(events, at(2000)), 3);
    assert.equal(countAt(events, at(1e9)), 4);
  });

  test('ISO instants: zones, offsets, fractions and dates are accepted; the rest refused', () => {
    assert.equal(parseIsoInstant('2030-01-01T00:00:00Z')?.getTime(), T0);
    assert.equal(parseIsoInstant('2030-01-01T02:00:00+02:00')?.getTime(), T0);
    assert.equal(parseIsoInstant('2029-12-31T23:30:00-0030')?.getTime(), T0);
    assert.equal(parseIsoInstant('2030-01-01T00:00:00.123456Z')?.getTime(), T0 + 123);
    assert.equal(parseIsoInstant('2030-01-01')?.getTime(), T0);
    for (const bad of [
      'yesterday',
      '',
      '2030-01-01T00:00:00', // no zone: ambiguous
      '2024-02-30',
      '2023-02-29T00:00:00Z',
      '2024-13-01T00:00:00Z',
      '2024-01-01T24:00:00Z',
      '2024-01-01T10:60:00Z',
      '2024-01-01T10:00:00+25:00',
      '2024-01-01 10:00:00Z',
      '1714564800',
    ])
      assert.equal(parseIsoInstant(bad), null, bad);
    assert.ok(parseIsoInstant('2024-02-29T00:00:00Z'), 'a leap day');
  });

  test('a point is a revision (digits) or an instant; anything else is refused', () => {
    assert.deepEqual(parsePointInTime('12'), { kind: 'revision', revision: 12n });
    assert.deepEqual(parsePointInTime('0'), { kind: 'revision', revision: 0n });
    assert.deepEqual(parsePointInTime('2030-01-01T00:00:00Z'), { kind: 'time', at: new Date(T0) });
    for (const bad of ['-1', '1.5', '', 'latest', '1e3', '2030-01-01T00:00:00'])
      assert.equal(parsePointInTime(bad), null, bad);
  });
});
