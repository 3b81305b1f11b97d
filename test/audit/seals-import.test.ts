/**
 * Issue 13, item 4: seals survive an export and an import. The offline CLI verifies the
 * export with only the public key and the witness; `audit import` checks the seals
 * before writing and refuses an export that no longer fits them; an app started on the
 * imported store (SQLite or PostgreSQL) with the same key verifies every seal and
 * seals on top of them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventHash, GENESIS_HASH } from '../../src/eventstore/hash-chain.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { tempDir, testPostgresUrl, uniqueName } from '../support/env.js';
import { dropPostgresSchema, STORE_KINDS } from '../support/store-kinds.js';
import { buildHistory } from '../fixtures/history.js';
import type { Json } from '../support/e2e.js';
import { cli, exportText } from '../fixtures/cli.js';

describe('seals carry over an export and an import', () => {
  const tmp = tempDir('vl-seals-import-');
  let a: TestApp;
  let file: string;
  let text: string;
  let keyFile: string;
  let witnessFile: string;
  const schemas: string[] = [];

  before(async () => {
    a = await startTestApp();
    await buildHistory(a, 'ia');
    assert.ok(await a.runtime.sealer!.sealNow());
    await buildHistory(a, 'ib');
    assert.ok(await a.runtime.sealer!.sealNow());
    await buildHistory(a, 'ic');
    text = await exportText(a);
    file = join(tmp.dir, 'export.ndjson');
    writeFileSync(file, text);
    keyFile = join(tmp.dir, 'seal.pub');
    writeFileSync(keyFile, (await a.as('auditor').get('/v1/audit/seals/key')).body.publicKey as string);
    witnessFile = join(a.dataDir, 'witness', 'seals.ndjson');
    await a.stop();
  });
  after(async () => {
    await a?.close();
    for (const s of schemas) await dropPostgresSchema(s);
    tmp.cleanup();
  });

  test('the offline CLI verifies the export with only the public key and the witness', async () => {
    const r = await cli(['audit', 'verify', file, '--key', keyFile, '--witness', witnessFile]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(
      r.stdout,
      /^verified \d+ events in \d+ streams; 2 seals verified, the last \(#1\) covers \d+ events; unsealed: [1-9]\d*\n$/,
    );
    const json = JSON.parse((await cli(['audit', 'verify', file, '--key', keyFile, '--json'])).stdout) as Json;
    assert.equal(json.verified, true);
    assert.equal(json.seals.verified, 2);
    assert.equal(json.seals.witness, null);
  });

  test('another key does not verify the seals: seal-forged', async () => {
    const other = await startTestApp();
    try {
      const otherKey = join(tmp.dir, 'other.pub');
      writeFileSync(otherKey, (await other.as('auditor').get('/v1/audit/seals/key')).body.publicKey as string);
      const r = await cli(['audit', 'verify', file, '--key', otherKey]);
      assert.equal(r.code, 1);
      assert.match(r.stdout, /^TAMPERED: seal-forged at \$seals revision 0 /);
    } finally {
      await other.close();
    }
  });

  test('an export whose VM stream was rewritten and re-hashed is refused by import, nothing written', async () => {
    const lines = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Json);
    const victim = lines.find((e) => String(e.streamId).startsWith('vm-'))!.streamId as string;
    let prev = GENESIS_HASH;
    for (const e of lines.filter((l) => l.streamId === victim)) {
      if (e.revision === 0) e.metadata.principal = 'admin#forged00';
      e.metadata.prevHash = prev;
      e.metadata.hash = eventHash({
        id: e.id as string,
        streamId: victim,
        revision: BigInt(e.revision as number),
        type: e.type as string,
        data: e.data as Record<string, unknown>,
        metadata: e.metadata,
        prevHash: prev,
      });
      prev = e.metadata.hash;
    }
    const forged = join(tmp.dir, 'forged.ndjson');
    writeFileSync(forged, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    const target = join(tmp.dir, 'refused.sqlite3');
    const r = await cli(['audit', 'import', forged, '--store', target]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, new RegExp(`does not match its seals: edited: ${victim} revisions 0–`));
    assert.ok(!existsSync(target), 'a refused import creates no store');
    const offline = await cli(['audit', 'verify', forged, '--key', keyFile, '--witness', witnessFile]);
    assert.match(offline.stdout, new RegExp(`^TAMPERED: edited at ${victim} revision 0 `));
  });

  for (const { store, skip } of STORE_KINDS) {
    test(
      `imported into ${store}: the app verifies every seal with the same key and seals on top`,
      { skip },
      async () => {
        const dataDir = join(tmp.dir, `b-${store}`);
        let eventStoreUrl = `sqlite:${join(dataDir, 'events.sqlite3')}`;
        if (store === 'postgres') {
          const u = new URL(testPostgresUrl()!);
          u.searchParams.set('schema', uniqueName('vlsi'));
          eventStoreUrl = u.toString();
          schemas.push(eventStoreUrl);
        }
        const target = store === 'sqlite' ? eventStoreUrl.slice('sqlite:'.length) : eventStoreUrl;
        const imported = await cli(['audit', 'import', file, '--store', target]);
        assert.equal(imported.code, 0, imported.stderr);
        // Each restored store continues its own copy of the witness (one store, one witness).
        const witness = join(tmp.dir, `witness-${store}.ndjson`);
        copyFileSync(witnessFile, witness);
        const b = await startTestApp({
          dataDir,
          eventStoreUrl,
          env: { SEAL_KEY_FILE: a.config.sealKeyFile, SEAL_WITNESS_FILE: witness },
        });
        try {
          const r = (await b.as('auditor').get('/v1/audit/verify')).body as Json;
          assert.equal(r.verified, true, JSON.stringify(r.problem));
          assert.equal(r.seals.verified, 2);
          assert.equal(r.seals.witness, 2);
          const next = await b.runtime.sealer!.sealNow();
          assert.equal(next?.sequence, 2, 'the next seal extends the imported ones');
          // The restored app's reconciler may record crashes of the simulated VMs it finds gone
          // (their driver state did not survive) around the seal: exactly those are unsealed.
          const unsealedNow = async () =>
            (await b.runtime.store!.readAll({ after: BigInt(next!.position) })).filter((e) => e.streamId !== '$seals')
              .length;
          const atLeast = await unsealedNow();
          const again = (await b.as('auditor').get('/v1/audit/verify')).body as Json;
          assert.equal(again.verified, true, JSON.stringify(again.problem));
          assert.equal(again.seals.verified, 3);
          const atMost = await unsealedNow();
          assert.ok(
            again.unsealed >= atLeast && again.unsealed <= atMost,
            `unsealed ${again.unsealed}: ${atLeast}..${atMost}`,
          );
        } finally {
          // close, not stop: b has a Redis prefix of its own, which stop leaves behind (135 keys a run).
          await b.close();
        }
      },
    );
  }
});
