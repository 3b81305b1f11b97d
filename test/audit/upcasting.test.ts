/**
 * Issue 4, point 7: VmMigrated went to schema 2 (`hostId` → `targetHostId`).
 * test/fixtures/v1-events.ndjson was exported by the code before that change
 * (test/fixtures/generate-v1-events.ts). Imported into a fresh store it replays
 * to the right state through the upcaster (read model and decider state), its
 * chain still verifies (the stored events are never changed), and new
 * migrations are written at schema 2.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AggregateLoader } from '../../src/application/load-aggregate.js';
import type { VmEvent } from '../../src/domain/vm/vm.events.js';
import { vmDecider } from '../../src/domain/vm/vm.decider.js';
import { evolveVm, initialVmState } from '../../src/domain/vm/vm.state.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { tempDir, testPostgresUrl, uniqueName } from '../support/env.js';
import { dropPostgresSchema } from '../support/store-kinds.js';
import { cli } from '../fixtures/cli.js';
import {
  createVmOp,
  getHost,
  getVm,
  registerSimHost,
  runOk,
  storeEvents,
  vmEvents,
  waitAllocated,
  waitSettled,
  type Json,
} from '../support/e2e.js';

const FIXTURE = join(process.cwd(), 'test/fixtures/v1-events.ndjson');
const fixture = readFileSync(FIXTURE, 'utf8')
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l) as Json);
const migrated = fixture.find((e) => e.type === 'VmMigrated')!;
const webStream = migrated.streamId as string;
const webId = webStream.slice(3);
const sourceHost = migrated.data.sourceHostId as string;
const targetHost = migrated.data.hostId as string;
const streams = new Set(fixture.map((e) => e.streamId as string)).size;

test('the fixture really is version 1: every event at schema 1, VmMigrated in its v1 shape', () => {
  assert.ok(fixture.length >= 40);
  assert.deepEqual([...new Set(fixture.map((e) => e.metadata.schema))], [1]);
  assert.deepEqual(Object.keys(migrated.data as Json).sort(), ['hostId', 'operationId', 'sourceHostId']);
  assert.notEqual(sourceHost, targetHost);
});

const STORES = [
  { kind: 'sqlite' as const, skip: false as const },
  { kind: 'postgres' as const, skip: testPostgresUrl() ? (false as const) : 'TEST_POSTGRES_URL not set' },
];

for (const { kind, skip } of STORES) {
  describe(`e2e: the v1 fixture replays on ${kind} to the right state`, { skip }, () => {
    const tmp = tempDir('vl-upcast-');
    let t: TestApp;
    let storeUrl: string;

    before(async () => {
      if (kind === 'sqlite') storeUrl = `sqlite:${join(tmp.dir, 'fixture.sqlite3')}`;
      else {
        const u = new URL(testPostgresUrl()!);
        u.searchParams.set('schema', uniqueName('vlup'));
        storeUrl = u.toString();
      }
      const imported = await cli(['audit', 'import', FIXTURE, '--store', storeUrl.replace(/^sqlite:/, '')]);
      assert.equal(imported.code, 0, imported.stderr);
      // API role: projections and sagas, no host workers (the fixture's simulated hosts have no domains here).
      t = await startTestApp({ eventStoreUrl: storeUrl, env: { ROLE: 'api' } });
      await waitSettled(t, [], 30000);
    });
    after(async () => {
      await t?.close();
      if (kind === 'postgres' && storeUrl) await dropPostgresSchema(storeUrl);
      tmp.cleanup();
    });

    test('GET /v1/vms/{id}: the migrated VM is on the v1 event’s destination host', async () => {
      const vm = await getVm(t, webId);
      assert.equal(vm.hostId, targetHost);
      assert.equal(vm.state, 'running');
      assert.deepEqual(
        (vm.snapshots as Json[]).map((s) => s.name),
        ['before-upgrade'],
      );
      assert.equal(vm.revision, fixture.filter((e) => e.streamId === webStream).length - 1);
      // Allocation follows: the source released it, the target holds it.
      assert.deepEqual((await getHost(t, sourceHost)).allocated, { vcpus: 1, memoryMiB: 64 });
      assert.deepEqual((await getHost(t, targetHost)).allocated, { vcpus: 1, memoryMiB: 64 });
    });

    test('the decider’s state, folded through the upcaster, has the VM on the target host', async () => {
      const loaded = await new AggregateLoader(t.runtime.store!).load(vmDecider, webStream);
      assert.equal(loaded.state.hostId, targetHost);
      assert.equal(loaded.state.state, 'running');
      assert.equal(loaded.state.migration, null);
      // Without the upcaster the v1 event would lose the host: what this change guards against.
      const raw = (await t.runtime.store!.readStream(webStream)).reduce(
        (s, e) => evolveVm(s, { type: e.type, data: e.data } as VmEvent),
        initialVmState(),
      );
      assert.equal(raw.hostId, undefined);
    });

    test('events read in the v2 shape; stored events unchanged; the chain of v1 events verifies', async () => {
      const items = await vmEvents(t, webId);
      const m = items.find((e) => e.type === 'VmMigrated')!;
      assert.deepEqual(m.data, {
        operationId: migrated.data.operationId,
        sourceHostId: sourceHost,
        targetHostId: targetHost,
      });
      assert.equal(m.metadata.schema, 1, 'the metadata says how it was stored');
      assert.equal(m.metadata.hash, migrated.metadata.hash);

      const stored = (await storeEvents(t)).find((e) => e.id === migrated.id)!;
      assert.deepEqual(stored.data, migrated.data, 'the stored event still has its v1 data');
      assert.deepEqual(
        (await storeEvents(t)).map((e) => e.metadata.hash),
        fixture.map((e) => e.metadata.hash),
        'nothing appended by the replay, every hash as exported',
      );

      const verify = await t.as('auditor').get('/v1/audit/verify');
      // The v1 fields, plus the seals' verdict added since: no seal yet, so every event is unsealed.
      assert.deepEqual(
        { ...verify.body, seals: undefined },
        {
          verified: true,
          count: fixture.length,
          streams,
          firstBreak: null,
          problem: null,
          seals: undefined,
          unsealed: fixture.length,
        },
      );
      const one = await t.as('auditor').get(`/v1/audit/verify?streamId=${webStream}`);
      assert.equal(one.body.verified, true);
      const offline = await cli(['audit', 'verify', FIXTURE]);
      assert.equal(offline.stdout, `verified ${fixture.length} events in ${streams} streams\n`);
    });
  });
}

describe('e2e: new migrations are written at schema 2', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(async () => {
    await t?.close();
  });

  test('VmMigrated is stored at schema 2 with targetHostId; the saga still releases the source', async () => {
    const a = (await registerSimHost(t, 'up-a')).id as string;
    const b = (await registerSimHost(t, 'up-b')).id as string;
    const created = await createVmOp(t, { name: 'up', hostId: a, vcpus: 2, memoryMiB: 128 });
    const vmId = created.accepted.vmId;
    const op = (await runOk(t, 'post', `/v1/vms/${vmId}/migrations`, { targetHostId: b, live: true })).accepted;
    const e = (await storeEvents(t)).find((x) => x.type === 'VmMigrated')!;
    assert.equal(e.metadata.schema, 2);
    assert.deepEqual(e.data, { operationId: op.operationId, sourceHostId: a, targetHostId: b });
    assert.equal((await getVm(t, vmId)).hostId, b);
    await waitAllocated(t, a, { vcpus: 0, memoryMiB: 0 });
    assert.deepEqual((await getHost(t, b)).allocated, { vcpus: 2, memoryMiB: 128 });
    await waitSettled(t, [a, b]);
    const verify = await t.as('auditor').get('/v1/audit/verify');
    assert.equal(verify.body.verified, true);
  });
});
