import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { RecordedEvent } from '../eventstore/event-store.port.js';
import { chainEvents, GENESIS_HASH, verifyChain } from '../eventstore/hash-chain.js';
import type { VmEvent } from './vm/vm.events.js';
import { evolveVm, initialVmState, type VmState } from './vm/vm.state.js';
import { schemaOf, upcast, vmMigratedV1ToV2 } from './upcasters.js';

const STREAM = 'vm-0ea341c7-ca4f-48d6-a5da-a2187e0db80f';

/** A stored, chained event as an adapter returns it. */
function stored(type: string, data: Record<string, unknown>, schema: number, revision = 0n): RecordedEvent {
  const [e] = chainEvents(
    STREAM,
    [
      {
        id: `e-${type}-${schema}-${revision}`,
        type,
        data,
        metadata: {
          principal: 'operator#1',
          correlationId: 'op-1',
          causationId: 'c-1',
          at: '2026-01-01T00:00:00.000Z',
          schema,
        },
      },
    ],
    revision - 1n,
    GENESIS_HASH,
  );
  return { ...e!, streamId: STREAM, position: revision + 1n };
}

describe('upcasters', () => {
  test('VmMigrated is written at schema 2; types never changed stay at 1', () => {
    assert.equal(schemaOf('VmMigrated'), 2);
    assert.equal(schemaOf('VmStarted'), 1);
    assert.equal(schemaOf('HostRegistered'), 1);
    assert.equal(schemaOf('NoSuchEvent'), 1);
  });

  test('VmMigrated v1 → v2: hostId becomes targetHostId, the other fields are kept', () => {
    assert.deepEqual(vmMigratedV1ToV2({ operationId: 'op', sourceHostId: 'a', hostId: 'b' }), {
      operationId: 'op',
      sourceHostId: 'a',
      targetHostId: 'b',
    });
    const v1 = stored('VmMigrated', { operationId: 'op', sourceHostId: 'a', hostId: 'b' }, 1);
    const up = upcast(v1);
    assert.deepEqual(up.data, { operationId: 'op', sourceHostId: 'a', targetHostId: 'b' });
    assert.equal(up.metadata, v1.metadata, 'metadata (schema, hash) is the stored one');
  });

  test('upcasting never changes the stored event: it still verifies, its data still says hostId', () => {
    const v1 = stored('VmMigrated', { operationId: 'op', sourceHostId: 'a', hostId: 'b' }, 1);
    const before = structuredClone(v1);
    upcast(v1);
    assert.deepEqual(v1, before);
    assert.equal(verifyChain([v1]), null);
    // The upcast copy is not what was hashed: verification must read stored events.
    assert.notEqual(verifyChain([upcast(v1)]), null);
  });

  test('a current-version event, another type, a future version: returned as they are', () => {
    const v2 = stored('VmMigrated', { operationId: 'op', sourceHostId: 'a', targetHostId: 'b' }, 2);
    assert.equal(upcast(v2), v2);
    const started = stored('VmStarted', { operationId: 'op' }, 1);
    assert.equal(upcast(started), started);
    const v3 = stored('VmMigrated', { operationId: 'op', somethingNew: true }, 3);
    assert.equal(upcast(v3), v3);
  });

  test('the VM decider folds a v1 and a v2 migration of one stream to the right host', () => {
    const history: Array<{ type: string; data: Record<string, unknown>; schema: number }> = [
      {
        type: 'VmMigrationRequested',
        data: { operationId: 'm1', sourceHostId: 'a', targetHostId: 'b', live: true },
        schema: 1,
      },
      { type: 'VmMigrated', data: { operationId: 'm1', sourceHostId: 'a', hostId: 'b' }, schema: 1 },
      {
        type: 'VmMigrationRequested',
        data: { operationId: 'm2', sourceHostId: 'b', targetHostId: 'c', live: true },
        schema: 1,
      },
      { type: 'VmMigrated', data: { operationId: 'm2', sourceHostId: 'b', targetHostId: 'c' }, schema: 2 },
    ];
    let state: VmState = { ...initialVmState(), exists: true, state: 'running', hostId: 'a' };
    const hosts: Array<string | null> = [];
    for (const [i, h] of history.entries()) {
      const e = upcast(stored(h.type, h.data, h.schema, BigInt(i)));
      state = evolveVm(state, { type: e.type, data: e.data } as VmEvent);
      hosts.push(state.hostId);
    }
    assert.deepEqual(hosts, ['a', 'b', 'b', 'c']);
    assert.equal(state.state, 'running');
    assert.equal(state.migration, null);
  });
});
