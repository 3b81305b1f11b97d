/**
 * Issue 13: an administrator who writes to the store's database directly, and who
 * recomputes every per-stream hash with the project's own eventHash, is still caught:
 * each attack below is made straight in the SQLite or PostgreSQL table and
 * GET /v1/audit/verify names it by kind, stream and revision. Each case restores the
 * whole table afterwards and checks the log verifies again.
 */
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RecordedEvent } from '../../src/eventstore/event-store.port.js';
import { eventHash, GENESIS_HASH } from '../../src/eventstore/hash-chain.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { tempDir } from '../support/env.js';
import { dropPostgresSchema, STORE_KINDS } from '../support/store-kinds.js';
import { buildHistory } from '../fixtures/history.js';
import { storeEvents, type Json } from '../support/e2e.js';
import { cli, exportText } from '../fixtures/cli.js';
import { postgresLog, sqliteLog, type RawLog, type Row } from './raw-log.js';

/** The stream's events re-chained from revision 0 after `edit` changed some of them: what a careful attacker writes. */
function rechain(events: RecordedEvent[], edit: (e: RecordedEvent) => RecordedEvent): RecordedEvent[] {
  let prev = GENESIS_HASH;
  return events.map((original) => {
    const e = edit(original);
    const hash = eventHash({ ...e, prevHash: prev });
    const out = { ...e, metadata: { ...e.metadata, prevHash: prev, hash } };
    prev = hash;
    return out;
  });
}

for (const { store, skip } of STORE_KINDS) {
  describe(`seals on ${store}: attacks by someone with the database are named`, { skip }, () => {
    const tmp = tempDir('vl-seals-');
    let t: TestApp;
    let raw: RawLog;
    let saved: Row[];
    let log: RecordedEvent[];
    let vmStreams: string[];
    let keyFile: string;
    let witnessFile: string;

    const verify = async (): Promise<Json> => {
      const r = await t.as('auditor').get('/v1/audit/verify');
      assert.equal(r.status, 200);
      return r.body as Json;
    };
    const sealNow = async () => {
      const s = await t.runtime.sealer!.sealNow();
      assert.ok(s, 'a seal was made');
      return s;
    };
    const seals = () => log.filter((e) => e.streamId === '$seals');

    before(async () => {
      t = await startTestApp({ store });
      const first = await buildHistory(t, 'sa');
      await sealNow();
      const second = await buildHistory(t, 'sb');
      await sealNow();
      await buildHistory(t, 'sc'); // unsealed tail
      vmStreams = [...first.vmIds, ...second.vmIds].map((id) => `vm-${id}`);
      log = await storeEvents(t);
      raw = store === 'sqlite' ? sqliteLog(join(t.dataDir, 'events.sqlite3')) : await postgresLog(t.eventStoreUrl);
      saved = await raw.all();
      const key = await t.as('auditor').get('/v1/audit/seals/key');
      assert.equal(key.status, 200);
      keyFile = join(tmp.dir, 'seal.pub');
      writeFileSync(keyFile, key.body.publicKey as string);
      witnessFile = join(t.dataDir, 'witness', 'seals.ndjson');
    });
    afterEach(async () => {
      await raw.restoreAll(saved);
      const clean = await verify();
      assert.equal(clean.verified, true, JSON.stringify(clean.problem));
    });
    after(async () => {
      await raw?.close();
      await t?.close();
      if (store === 'postgres' && t) await dropPostgresSchema(t.eventStoreUrl);
      tmp.cleanup();
    });

    test('an untouched log: every seal verifies, the tail after the last seal is counted unsealed', async () => {
      const r = await verify();
      assert.equal(r.verified, true);
      assert.equal(r.problem, null);
      assert.equal(r.firstBreak, null);
      assert.equal(r.seals.total, 2);
      assert.equal(r.seals.verified, 2);
      assert.equal(r.seals.signatures, 'checked');
      assert.equal(r.seals.witness, 2, 'each seal is a witness line');
      const sealed = log.findIndex((e) => e.id === r.seals.last.lastEventId) + 1 || r.seals.last.count;
      const after = log.slice(r.seals.last.count).filter((e) => e.type !== 'LogSealed').length;
      assert.ok(sealed > 0);
      assert.equal(r.unsealed, after);
      assert.ok(r.unsealed > 0, 'the third history is not sealed yet');
      const list = await t.as('auditor').get('/v1/audit/seals');
      assert.deepEqual(
        list.body.seals.map((s: Json) => s.sequence),
        [0, 1],
      );
      assert.equal(readFileSync(witnessFile, 'utf8').trim().split('\n').length, 2);
    });

    test('revision 0 of a VM stream rewritten and the whole stream re-hashed with eventHash: edited', async () => {
      const stream = vmStreams[0]!;
      const victim = log.filter((e) => e.streamId === stream);
      const forged = rechain(victim, (e) =>
        e.revision === 0n
          ? {
              ...e,
              data: { ...e.data, spec: { ...(e.data.spec as object), memoryMiB: 4096 } },
              metadata: { ...e.metadata, principal: 'admin#forged00' },
            }
          : e,
      );
      for (const e of forged)
        await raw.exec('UPDATE events SET data = $1, metadata = $2 WHERE id = $3', [
          JSON.stringify(e.data),
          JSON.stringify(e.metadata),
          e.id,
        ]);
      const r = await verify();
      assert.equal(r.firstBreak, null, 'every per-stream chain still verifies: the v1 check alone says nothing');
      assert.equal(r.verified, false);
      assert.equal(r.problem.kind, 'edited');
      assert.equal(r.problem.streamId, stream);
      assert.equal(r.problem.revision, 0);
      assert.equal(r.problem.position, victim[0]!.position.toString());
      assert.equal(r.problem.seal, 0);

      // Offline, with only the export, the public key and the witness: the same verdict.
      const file = join(tmp.dir, `edited-${store}.ndjson`);
      writeFileSync(file, await exportText(t));
      const offline = await cli(['audit', 'verify', file, '--key', keyFile, '--witness', witnessFile]);
      assert.equal(offline.code, 1, offline.stderr);
      assert.match(offline.stdout, new RegExp(`^TAMPERED: edited at ${stream} revision 0 \\(position \\d+\\): `));
    });

    test('every row of one VM stream deleted: stream-deleted', async () => {
      const stream = vmStreams[1]!;
      assert.ok((await raw.exec('DELETE FROM events WHERE stream_id = $1', [stream])) > 0);
      const r = await verify();
      assert.equal(r.firstBreak, null);
      assert.equal(r.problem.kind, 'stream-deleted');
      assert.equal(r.problem.streamId, stream);
      assert.equal(r.problem.seal, 0);
    });

    test("the log's tail cut off, the last seal with it: truncated (the witness still has that seal)", async () => {
      const lastSeal = seals()[1]!;
      const cut = log[log.indexOf(lastSeal) - 5]!.position;
      assert.ok((await raw.exec('DELETE FROM events WHERE position > $1', [cut.toString()])) > 5);
      const r = await verify();
      assert.equal(r.firstBreak, null, 'a cut tail leaves every chain whole');
      assert.equal(r.problem.kind, 'truncated');
      assert.equal(r.problem.seal, 1);
      assert.equal(r.problem.position, cut.toString());
    });

    test('an event inserted between two sealed events, with a correct hash of its own: inserted', async () => {
      // PostgreSQL: after a one-event append the next position is free; SQLite: later rows move down one.
      const anchor = log.find(
        (e, i) => i > 3 && e.streamId !== '$seals' && (store === 'sqlite' || log[i + 1]!.position !== e.position + 1n),
      )!;
      const at = log.indexOf(anchor);
      assert.ok(at < log.indexOf(seals()[0]!), 'inside the first seal');
      const streamId = `vm-${randomUUID()}`;
      const body = { id: randomUUID(), streamId, revision: 0n, type: 'VmRequested', data: { name: 'ghost' } };
      const metadata = { ...anchor.metadata, prevHash: GENESIS_HASH };
      const hash = eventHash({ ...body, metadata, prevHash: GENESIS_HASH });
      await raw.insertAfter(anchor.position, { ...body, revision: 0, metadata: { ...metadata, hash } });
      const r = await verify();
      assert.equal(r.firstBreak, null);
      assert.equal(r.problem.kind, 'inserted');
      assert.equal(r.problem.streamId, streamId);
      assert.equal(r.problem.revision, 0);
      assert.equal(r.problem.seal, 0);
    });

    test('two sealed events of different streams swapped in the log: reordered', async () => {
      const end = log.indexOf(seals()[0]!);
      const i = log.findIndex(
        (e, k) => k > 2 && k < end - 2 && e.streamId !== log[k + 1]!.streamId && e.streamId !== '$seals',
      );
      const [a, b] = [log[i]!, log[i + 1]!];
      await raw.swap(a.id, b.id);
      const r = await verify();
      assert.equal(r.firstBreak, null, 'each stream keeps its own order');
      assert.equal(r.problem.kind, 'reordered');
      assert.equal(r.problem.seal, 0);
    });

    test("a seal's root rewritten and the $seals chain re-hashed: seal-forged", async () => {
      const events = log.filter((e) => e.streamId === '$seals');
      const forged = rechain(events, (e) =>
        e.revision === 0n ? { ...e, data: { ...e.data, root: 'f'.repeat(64) } } : e,
      );
      for (const e of forged)
        await raw.exec('UPDATE events SET data = $1, metadata = $2 WHERE id = $3', [
          JSON.stringify(e.data),
          JSON.stringify(e.metadata),
          e.id,
        ]);
      const r = await verify();
      assert.equal(r.firstBreak, null);
      assert.equal(r.problem.kind, 'seal-forged');
      assert.equal(r.problem.streamId, '$seals');
      assert.equal(r.problem.revision, 0);
      assert.equal(r.problem.position, events[0]!.position.toString());
    });

    test('the last seal deleted from the store, still in the witness: seal-missing', async () => {
      const last = seals()[1]!;
      assert.equal(await raw.exec('DELETE FROM events WHERE id = $1', [last.id]), 1);
      const r = await verify();
      assert.equal(r.firstBreak, null, 'it was the tail of $seals: no chain notices');
      assert.equal(r.problem.kind, 'seal-missing');
      assert.equal(r.problem.seal, 1);
    });

    test("one event's inclusion proof, checked offline with only the public key and the seal", async () => {
      const event = log.find((e) => e.streamId === vmStreams[2] && e.revision === 1n)!;
      const file = join(tmp.dir, `proof-${store}.json`);
      const res = await t.as('auditor').get(`/v1/audit/proof?position=${event.position}`);
      assert.equal(res.status, 200);
      assert.equal(res.body.event.id, event.id);
      assert.equal(res.body.seal.sequence, 1, 'against the latest seal');
      writeFileSync(file, JSON.stringify(res.body));
      const ok = await cli(['audit', 'proof', file, '--key', keyFile, '--witness', witnessFile]);
      assert.equal(ok.code, 0, ok.stderr + ok.stdout);
      assert.match(ok.stdout, new RegExp(`^proof OK: ${vmStreams[2]} revision 1 `));

      writeFileSync(
        file,
        JSON.stringify({ ...res.body, event: { ...res.body.event, data: { ...res.body.event.data, memoryMiB: 1 } } }),
      );
      const edited = await cli(['audit', 'proof', file, '--key', keyFile]);
      assert.equal(edited.code, 1);
      assert.match(edited.stdout, /^PROOF FAILS: the event's content does not give its hash/);

      const unsealed = log[log.length - 1]!;
      const late = await t.as('auditor').get(`/v1/audit/proof?position=${unsealed.position}`);
      assert.equal(late.status, 409, 'not sealed yet');
    });
  });
}
