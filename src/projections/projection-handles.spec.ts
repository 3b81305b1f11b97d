import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RecordedEvent } from '../eventstore/event-store.port.js';
import { NETWORK_EVENT_TYPES } from '../domain/network/network.events.js';
import { PROJECT_EVENT_TYPES } from '../domain/project/project.events.js';
import { PROJECTIONS } from './projection-catalog.js';
import type { EventStore } from '../eventstore/event-store.port.js';
import type { Redis } from 'ioredis';
import type { Projection, ProjectionTx } from './projection.js';
import { ReadModelKeys } from './read-model.keys.js';
import { ShadowReplay } from './shadow-replay.js';
import { recordedEvent } from '../../test/support/recorded-event.js';

const keys = new ReadModelKeys('t');

/** Every kind of stream the log holds, and a few names that only look like one. */
const STREAMS = [
  'vm-1',
  'vm-',
  'host-h1',
  'host-',
  'project-p1',
  'image-debian',
  'network-n1',
  'networks-registry',
  'volume-v1',
  'pgroup-g1',
  'projection-vms',
  '$seals',
  'vmx-1',
];

/** Types of every family (each family's own, some of them under another family's stream above), and strangers. */
const TYPES = [
  'VmCreateRequested',
  'VmPlaced',
  'VmStarted',
  'VmStopRequested',
  'VmDeleted',
  'VmMigrated',
  'HostRegistered',
  'HostCapacityReserved',
  'HostCapacityReleased',
  'HostEvacuationStarted',
  'HostFenced',
  'ImageUploaded',
  'ImageDeleted',
  ...NETWORK_EVENT_TYPES,
  ...PROJECT_EVENT_TYPES,
  'VolumeCreateRequested',
  'VolumeCreated',
  'VolumeDeleteRequested',
  'ProjectionRebuildStarted',
  'ProjectionRebuildSucceeded',
  'LogSealed',
  'SomethingNobodyKnows',
];

const event = (streamId: string, type: string): RecordedEvent =>
  recordedEvent({ id: `${streamId}/${type}`, streamId, type });

/** A transaction that notes every read and write (the fold's and the live one's methods alike). */
function recordingTx(): { tx: ProjectionTx; calls: string[] } {
  const calls: string[] = [];
  const tx: ProjectionTx = {
    get: (k) => {
      calls.push(`get ${k}`);
      return Promise.resolve(undefined);
    },
    peek: (k) => {
      calls.push(`peek ${k}`);
      return undefined;
    },
    set: (k) => calls.push(`set ${k}`),
    del: (k) => calls.push(`del ${k}`),
    index: (k) => calls.push(`index ${k}`),
    unindex: (k) => calls.push(`unindex ${k}`),
  };
  return { tx, calls };
}

describe('Projection.handles (the events a replay hands to apply)', () => {
  for (const [name, make] of Object.entries(PROJECTIONS)) {
    it(`${name}: an event it says it does not handle is one apply reads and writes nothing for`, async () => {
      const projection = make(keys);
      assert.ok(projection.handles, `${name} declares the events it handles`);
      let skipped = 0;
      for (const streamId of STREAMS)
        for (const type of TYPES) {
          const e = event(streamId, type);
          if (projection.handles(e)) continue;
          skipped++;
          const { tx, calls } = recordingTx();
          // Data left empty: apply must have returned on the stream and type alone.
          await projection.apply(e, tx);
          assert.deepEqual(calls, [], `${name} ignores ${type} on ${streamId}`);
        }
      assert.ok(skipped > 0);
    });
  }

  it('each read model handles its own families, and only on their streams', () => {
    const handles = (name: string, streamId: string, type: string): boolean =>
      PROJECTIONS[name]!(keys).handles!(event(streamId, type));
    assert.equal(handles('vms', 'vm-1', 'VmCreateRequested'), true);
    assert.equal(handles('vms', 'project-p1', PROJECT_EVENT_TYPES[0]!), true);
    assert.equal(handles('vms', 'projection-vms', 'ProjectionRebuildStarted'), true);
    assert.equal(handles('vms', 'host-h1', 'HostEvacuationStarted'), true);
    assert.equal(handles('vms', 'volume-v1', 'VolumeCreateRequested'), true);
    assert.equal(handles('vms', 'host-h1', 'HostCapacityReserved'), false);
    assert.equal(handles('vms', 'vm-', 'VmCreateRequested'), false);
    assert.equal(handles('vms', 'host-h1', 'VmCreateRequested'), false);
    assert.equal(handles('hosts', 'host-h1', 'HostCapacityReserved'), true);
    assert.equal(handles('hosts', 'vm-1', 'VmCreateRequested'), false);
    assert.equal(handles('images', 'image-debian', 'ImageUploaded'), true);
    assert.equal(handles('networks', 'network-n1', NETWORK_EVENT_TYPES[0]!), true);
    assert.equal(handles('networks', 'networks-registry', NETWORK_EVENT_TYPES[0]!), false);
    assert.equal(handles('volumes', 'volume-v1', 'VolumeCreated'), true);
    for (const name of Object.keys(PROJECTIONS)) assert.equal(handles(name, '$seals', 'LogSealed'), false);
  });

  it('a replay hands apply only the events the read model handles, in log order, and counts every event read', async () => {
    const applied: string[] = [];
    const projection: Projection = {
      name: 'probe',
      owns: () => true,
      handles: (e) => e.streamId.startsWith('vm-'),
      apply: async (e, tx) => {
        applied.push(e.id);
        tx.set(`t:probe:${e.id}`, e.position.toString());
      },
    };
    // The in-memory fold reads nothing from the store or Redis: neither is reached.
    const replay = new ShadowReplay({} as EventStore, {} as Redis, projection, keys, { persist: false });
    const page = ['vm-1', 'host-h1', 'vm-2', '$seals', 'vm-1'].map((s, i) => ({
      ...event(s, 'VmStarted'),
      id: `e${i}`,
      position: BigInt(i + 1),
    }));
    await replay.applyPage(page);
    assert.deepEqual(applied, ['e0', 'e2', 'e4']);
    assert.equal(replay.events, 5);
    assert.equal(replay.position, 5n);
  });
});
