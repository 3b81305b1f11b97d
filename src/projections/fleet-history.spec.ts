import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { randomUUID } from 'node:crypto';
import type { EventStore, RecordedEvent } from '../eventstore/event-store.port.js';
import { tempSqliteStore } from '../../test/support/recording-store.js';
import { applyToFleet, emptyFleet, type FleetState } from './fleet-fold.js';
import { FleetHistory } from './fleet-history.js';

/** A comparable picture of a fleet: every VM's and host's state and revision. */
function picture(f: FleetState): unknown {
  const entries = <T extends { revision: bigint }>(m: Map<string, T>) =>
    [...m.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([id, e]) => [id, { ...e, revision: String(e.revision) }]);
  return { position: String(f.position), vms: entries(f.vms), hosts: entries(f.hosts) };
}

function replay(log: RecordedEvent[], admit: (e: RecordedEvent) => boolean): FleetState {
  const f = emptyFleet();
  // The fleet reads VM and host streams only: other streams' events neither move it nor cut it.
  for (const e of log.filter((x) => /^(vm|host)-/.test(x.streamId))) {
    if (!admit(e)) break;
    applyToFleet(f, e);
  }
  return f;
}

describe('FleetHistory: checkpoints every few events answer exactly as a full replay', () => {
  let store: EventStore;
  let cleanup: () => Promise<void>;
  let log: RecordedEvent[];
  let clock = Date.parse('2030-01-01T00:00:00Z');

  const meta = (principal: string) => ({
    principal,
    correlationId: 'c',
    causationId: 'c',
    // The clock steps back once (another process's clock): the cut is at the first event after the instant.
    at: new Date((clock += clock === Date.parse('2030-01-01T00:00:05Z') ? -3000 : 1000)).toISOString(),
    schema: 1,
  });
  const append = (stream: string, type: string, data: Record<string, unknown>, expected: bigint | 'no_stream') =>
    store.append(stream, [{ id: randomUUID(), type, data, metadata: meta('alice') }], expected);

  before(async () => {
    ({ store, cleanup } = await tempSqliteStore());
    const capacity = { vcpus: 8, memoryMiB: 8192 };
    await append(
      'host-h1',
      'HostRegistered',
      { hostId: 'h1', name: 'h1', driver: 'simulated', uri: 's://', capacity },
      'no_stream',
    );
    await append(
      'host-h2',
      'HostRegistered',
      { hostId: 'h2', name: 'h2', driver: 'simulated', uri: 's://', capacity },
      'no_stream',
    );
    for (let i = 0; i < 6; i++) {
      const vm = `vm-${i}`;
      const spec = { name: `v${i}`, vcpus: 1, memoryMiB: 64, diskGiB: 1 };
      await append(
        vm,
        'VmCreateRequested',
        { vmId: `${i}`, operationId: `op${i}`, spec, requestedHostId: null, start: true },
        'no_stream',
      );
      // An event of another stream in between: positions the fleet does not fold still cut it.
      await append(`other-${i}`, 'Noise', {}, 'no_stream');
      await append(vm, 'VmPlaced', { operationId: `op${i}`, hostId: i % 2 ? 'h1' : 'h2' }, 0n);
      await append(
        `host-${i % 2 ? 'h1' : 'h2'}`,
        'HostCapacityReserved',
        { vmId: `${i}`, operationId: `op${i}`, vcpus: 1, memoryMiB: 64 },
        'any' as never,
      );
      await append(vm, 'VmDefined', { operationId: `op${i}`, hostId: i % 2 ? 'h1' : 'h2' }, 1n);
    }
    log = await store.readAll({});
  });
  after(async () => cleanup());

  test('at every log position, from checkpoints every 3 events', async () => {
    const history = new FleetHistory(store, 3, 4);
    for (const e of log) {
      const got = await history.at({ kind: 'position', position: e.position });
      assert.deepEqual(picture(got), picture(replay(log, (x) => x.position <= e.position)), `position ${e.position}`);
    }
    assert.ok(history.checkpointCount > 5, `checkpoints kept: ${history.checkpointCount}`);
  });

  test('at every instant (the clock stepped back once), and a future instant is the fleet now', async () => {
    const history = new FleetHistory(store, 3, 4);
    for (const e of log) {
      const t = Date.parse(e.metadata.at);
      for (const at of [t - 1, t, t + 1]) {
        const got = await history.at({ kind: 'time', at: new Date(at) });
        const expected = replay(log, (x) => Date.parse(x.metadata.at) <= at);
        assert.deepEqual(picture(got), picture(expected), `at ${new Date(at).toISOString()}`);
      }
    }
    const now = await history.at({ kind: 'time', at: new Date('2999-01-01T00:00:00Z') });
    assert.deepEqual(picture(now), picture(replay(log, () => true)));
  });

  test('events appended after the first question are folded on the next one', async () => {
    const history = new FleetHistory(store, 3, 4);
    const before = await history.at({ kind: 'time', at: new Date('2999-01-01T00:00:00Z') });
    await append(
      'vm-late',
      'VmCreateRequested',
      {
        vmId: 'late',
        operationId: 'opl',
        spec: { name: 'late', vcpus: 1, memoryMiB: 1, diskGiB: 1 },
        requestedHostId: null,
        start: false,
      },
      'no_stream',
    );
    const later = await history.at({ kind: 'time', at: new Date('2999-01-01T00:00:00Z') });
    assert.equal(before.vms.has('late'), false);
    assert.equal(later.vms.get('late')?.state.state, 'requested');
    assert.equal(later.vms.get('late')?.operation?.principal, 'alice');
  });
});
