/**
 * Issue 4, point 4: an export imported into an empty store (SQLite file, PostgreSQL
 * schema) with `virtledger audit import` replays to read models identical to the
 * original app's, with the same hashes; and every way the import refuses.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { importExport, ImportWriteError } from '../../src/audit/import-export.js';
import type { EventStore } from '../../src/eventstore/event-store.port.js';
import { chainEvents, GENESIS_HASH } from '../../src/eventstore/hash-chain.js';
import { SqliteEventStore } from '../../src/eventstore/sqlite/sqlite.event-store.js';
import { exportLine } from '../../src/modules/audit/export-line.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { tempDir, testPostgresUrl, uniqueName } from '../support/env.js';
import { dropPostgresSchema } from '../support/store-kinds.js';
import { buildHistory, type BuiltHistory } from '../fixtures/history.js';
import { cli, exportText } from '../fixtures/cli.js';
import { storeEvents, waitSettled, type Json } from '../support/e2e.js';

const pgUrl = testPostgresUrl();

async function get(t: TestApp, path: string): Promise<Json> {
  const res = await t.as('auditor').get(path);
  assert.equal(res.status, 200, `${path}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as Json;
}

/** Every read model a user can see, keyed by the request that shows it; positions (store-assigned) left out. */
async function readModels(t: TestApp, h: BuiltHistory): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const items = async (path: string) => (await get(t, path)).items as Json[];
  out['/v1/vms'] = await items('/v1/vms?limit=1000&includeDeleted=true');
  out['/v1/hosts'] = await items('/v1/hosts');
  out['/v1/operations'] = await items('/v1/operations?limit=1000');
  for (const id of h.vmIds) {
    out[`/v1/vms/${id}`] = await get(t, `/v1/vms/${id}`);
    out[`/v1/operations?vmId=${id}`] = await items(`/v1/operations?vmId=${id}&limit=1000`);
    out[`/v1/vms/${id}/events`] = (await items(`/v1/vms/${id}/events`)).map(({ position: _p, ...e }) => e);
  }
  for (const id of h.hostIds) out[`/v1/hosts/${id}`] = await get(t, `/v1/hosts/${id}`);
  const principals = new Set<string>();
  for (const id of h.operationIds) {
    const op = await get(t, `/v1/operations/${id}`);
    out[`/v1/operations/${id}`] = op;
    principals.add(op.principal as string);
  }
  assert.ok(principals.size >= 2, 'the history has several principals');
  for (const p of principals)
    out[`/v1/operations?principal=${p}`] = await items(`/v1/operations?principal=${encodeURIComponent(p)}&limit=1000`);
  out['/v1/events'] = ((await get(t, '/v1/events?limit=1000')).items as Json[]).map(({ position: _p, ...e }) => e);
  return out;
}

function pgSchemaUrl(): string {
  const u = new URL(pgUrl!);
  u.searchParams.set('schema', uniqueName('vlimp'));
  return u.toString();
}

describe('e2e: audit import — an export replays into an empty store to identical read models', () => {
  const tmp = tempDir('vl-import-');
  let a: TestApp;
  let h: BuiltHistory;
  let file: string;
  let text: string;
  let original: Record<string, unknown>;
  let originalEvents: Json[];
  const schemas: string[] = [];

  before(async () => {
    a = await startTestApp();
    h = await buildHistory(a, 'imp');
    text = await exportText(a);
    file = join(tmp.dir, 'export.ndjson');
    writeFileSync(file, text);
    original = await readModels(a, h);
    assert.equal((original['/v1/vms'] as Json[]).length, 4);
    assert.deepEqual(
      (original['/v1/vms'] as Json[]).map((v) => v.state),
      ['running', 'running', 'deleted', 'running'],
      'web migrated and running, db restarted, tmp deleted, flaky running after its failed snapshot',
    );
    assert.equal((original[`/v1/vms/${h.vmIds[0]}`] as Json).hostId, h.hostIds[1], 'web migrated to host b');
    originalEvents = (await storeEvents(a)).map((e) => ({ id: e.id, hash: e.metadata.hash }));
    // The hosts' simulated domains live under A's data dir; the imported control planes
    // reuse it (as a restore onto the same hosts would) so reconciliation finds them.
    await a.stop();
  });
  after(async () => {
    await a?.close();
    for (const s of schemas) await dropPostgresSchema(s);
    tmp.cleanup();
  });

  /** Starts app B on an imported store, waits for it to settle, and compares everything with app A. */
  async function replayAndCompare(eventStoreUrl: string): Promise<void> {
    const b = await startTestApp({ dataDir: a.dataDir, eventStoreUrl });
    try {
      const settled = await waitSettled(b, h.hostIds, 30000);
      assert.equal(settled, originalEvents.length, 'app B appended nothing while replaying (sagas, reconciliation)');
      const events = await storeEvents(b);
      assert.deepEqual(
        events.map((e) => ({ id: e.id, hash: e.metadata.hash })),
        originalEvents,
        'same events, same order, same hashes',
      );
      const verify = await get(b, '/v1/audit/verify');
      const { verified, count, streams, firstBreak } = verify;
      assert.deepEqual(
        { verified, count, streams, firstBreak },
        { verified: true, count: originalEvents.length, streams: 7, firstBreak: null },
      );
      const replayed = await readModels(b, h);
      for (const key of Object.keys(original)) assert.deepEqual(replayed[key], original[key], key);
      assert.deepEqual(Object.keys(replayed), Object.keys(original));
    } finally {
      await b.close();
    }
  }

  test('into an empty SQLite file: same hashes, identical read models on a fresh app', async () => {
    const target = join(tmp.dir, 'imported.sqlite3');
    const r = await cli(['audit', 'import', file, '--store', target]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `imported ${originalEvents.length} events in 7 streams into the sqlite store ${target}\n`);
    await replayAndCompare(`sqlite:${target}`);

    // A second import into the now non-empty store is refused and writes nothing.
    const again = await cli(['audit', 'import', file, '--store', target, '--json']);
    assert.equal(again.code, 2, again.stdout);
    assert.match(again.stderr, /refusing to import: the target store is not empty \(its log ends at position \d+\)/);
    assert.equal(again.stdout, '');
    const s = new SqliteEventStore({ file: target });
    await s.init();
    try {
      assert.equal((await s.readAll()).length, originalEvents.length);
    } finally {
      await s.close();
    }
  });

  test(
    'into an empty PostgreSQL schema: same hashes, identical read models',
    { skip: !pgUrl && 'TEST_POSTGRES_URL not set' },
    async () => {
      const url = pgSchemaUrl();
      schemas.push(url);
      const r = await cli(['audit', 'import', file, '--store', url, '--json']);
      assert.equal(r.code, 0, r.stderr);
      const report = JSON.parse(r.stdout) as Json;
      assert.equal(report.imported, originalEvents.length);
      assert.equal(report.streams, 7);
      assert.doesNotMatch(r.stdout + r.stderr, /postgres:\/\//, 'the URL (it may hold a password) is not echoed');
      await replayAndCompare(url);
    },
  );

  test('a broken chain is refused naming the event; nothing is written', async () => {
    const lines = text.trim().split('\n');
    const i = lines.findIndex((l) => (JSON.parse(l) as Json).type === 'VmSnapshotTaken');
    const victim = JSON.parse(lines[i]!) as Json;
    victim.data.name = 'renamed-after-the-fact';
    const bad = [...lines];
    bad[i] = JSON.stringify(victim);
    const badFile = join(tmp.dir, 'tampered.ndjson');
    writeFileSync(badFile, bad.join('\n') + '\n');
    const target = join(tmp.dir, 'never.sqlite3');
    const r = await cli(['audit', 'import', badFile, '--store', target]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `refusing to import: the export's hash chain is broken at ${victim.streamId} revision ${victim.revision} ` +
          `\\(line ${i + 1}\\): expected [0-9a-f]{64} found ${victim.metadata.hash}`,
      ),
    );
    assert.equal(existsSync(target), false, 'the target store was not even created');

    // A deleted line: the stream's next event is named (a revision gap).
    const gap = lines.filter((_, j) => j !== i);
    writeFileSync(badFile, gap.join('\n') + '\n');
    const g = await cli(['audit', 'import', badFile, '--store', target]);
    assert.equal(g.code, 1, g.stderr);
    assert.match(
      g.stderr,
      new RegExp(`broken at ${victim.streamId} revision ${victim.revision + 1} .*expected revision ${victim.revision}`),
    );
  });

  test('a ranged export, a malformed line, a missing file, a missing --store: clear refusals, nothing written', async () => {
    const target = join(tmp.dir, 'never2.sqlite3');
    const lines = text.trim().split('\n');
    const tail = join(tmp.dir, 'tail.ndjson');
    writeFileSync(tail, lines.slice(10).join('\n') + '\n');
    const cut = JSON.parse(lines[10]!) as Json;
    assert.ok((cut.revision as number) > 0, 'the cut starts a stream mid-way');
    const r = await cli(['audit', 'import', tail, '--store', target]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, new RegExp(`stream ${cut.streamId} starts at revision ${cut.revision} \\(line 1\\), not 0`));

    const junk = join(tmp.dir, 'junk.ndjson');
    writeFileSync(junk, `${lines[0]}\n{"not":"an event"}\n`);
    const j = await cli(['audit', 'import', junk, '--store', target]);
    assert.equal(j.code, 2);
    assert.match(j.stderr, /refusing to import: line 2: not an exported event/);

    const empty = join(tmp.dir, 'empty.ndjson');
    writeFileSync(empty, '');
    const e = await cli(['audit', 'import', empty, '--store', target]);
    assert.equal(e.code, 2);
    assert.match(e.stderr, /the export holds no events/);

    const missing = await cli(['audit', 'import', join(tmp.dir, 'missing.ndjson'), '--store', target]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read .*missing\.ndjson: ENOENT/);

    const noStore = await cli(['audit', 'import', file]);
    assert.equal(noStore.code, 2);
    assert.match(noStore.stderr, /--store/);
    assert.equal(existsSync(target), false);
    assert.equal(readFileSync(file, 'utf8'), text, 'the export itself is untouched');
  });

  test('a store that cannot be opened, a store URL of another kind: named, exit 2', async () => {
    const dead = await cli([
      'audit',
      'import',
      file,
      '--store',
      'postgres://postgres@127.0.0.1:1/postgres?schema=vl_nowhere',
    ]);
    assert.equal(dead.code, 2, dead.stdout);
    assert.match(dead.stderr, /cannot open the postgres store \(schema vl_nowhere\): /);
    assert.doesNotMatch(dead.stderr, /postgres:\/\//);
    const other = await cli(['audit', 'import', file, '--store', 'kurrentdb://127.0.0.1:2113']);
    assert.equal(other.code, 2);
    assert.match(
      other.stderr,
      /--store: only a SQLite file path, sqlite:<file> or postgres:\/\/… can be imported into/,
    );
  });

  test('an export whose chain verifies but that the store refuses (one event id in two streams): stops, says the store is partly written', async () => {
    // A hand-made export: valid chains, but stream B reuses an event id of stream A.
    const meta = { principal: 'test', correlationId: 'c', causationId: 'c', at: '2026-01-01T00:00:00.000Z', schema: 1 };
    const a = chainEvents(
      'vm-a',
      [{ id: 'dup-id', type: 'VmStarted', data: { operationId: 'c' }, metadata: meta }],
      -1n,
      GENESIS_HASH,
    );
    const b = chainEvents(
      'vm-b',
      [{ id: 'dup-id', type: 'VmStarted', data: { operationId: 'c' }, metadata: meta }],
      -1n,
      GENESIS_HASH,
    );
    const dup = join(tmp.dir, 'dup.ndjson');
    writeFileSync(
      dup,
      [
        ...a.map((e, i) => ({ ...e, streamId: 'vm-a', position: BigInt(i + 1) })),
        ...b.map((e) => ({ ...e, streamId: 'vm-b', position: 2n })),
      ]
        .map((e) => exportLine(e) + '\n')
        .join(''),
    );
    const verified = await cli(['audit', 'verify', dup]);
    assert.equal(verified.code, 0, 'the file itself verifies');
    const target = join(tmp.dir, 'dup.sqlite3');
    const r = await cli(['audit', 'import', dup, '--store', target]);
    assert.equal(r.code, 2, r.stdout);
    assert.match(
      r.stderr,
      /import failed after 1 events, at vm-b revision 0: .*the target store is partly written: drop it and import again/,
    );
  });

  test('fault injected (a store wrapper that alters data; no real adapter does): a hash that does not come out as exported stops the import', async () => {
    const target = new SqliteEventStore({ file: join(tmp.dir, 'altered.sqlite3') });
    const altering: EventStore = Object.create(target) as EventStore;
    altering.append = (streamId, events, expected) =>
      target.append(
        streamId,
        events.map((e) => ({ ...e, data: { ...e.data, altered: true } })),
        expected,
      );
    await assert.rejects(
      importExport(file, async () => {
        await target.init();
        return altering;
      }),
      (err: Error) => {
        assert.ok(err instanceof ImportWriteError);
        assert.match(
          err.message,
          /revision 0 was stored with hash [0-9a-f]{64}, the export says [0-9a-f]{64}; the target store is partly written/,
        );
        return true;
      },
    );
    await target.close();
  });
});
