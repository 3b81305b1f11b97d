/**
 * The sealer without the app: one owner at a time (two sealers on one store, one seal
 * wins, the other re-reads), a restart rebuilds the frontier from the log and seals on
 * top, a witness that missed a seal (crash between store and file) is caught up at
 * start, the key file is 0600 and never rewritten, and the sealer keeps only the streams
 * written since the latest seal (not one entry per stream of the log); a catch-up reads and hashes
 * the log a page per turn of the event loop, so other work runs between pages.
 */
import 'reflect-metadata';
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { join } from 'node:path';
import type { EventStore } from '../../src/eventstore/event-store.port.js';
import { SqliteEventStore } from '../../src/eventstore/sqlite/sqlite.event-store.js';
import { parsePublicKey } from '../../src/eventstore/seals/seal.js';
import { SEALER_PAGE, Sealer } from '../../src/eventstore/seals/sealer.js';
import { verifyStore } from '../../src/eventstore/seals/store-audit.js';
import { readWitness } from '../../src/eventstore/seals/witness.js';
import { tempDir } from '../support/env.js';

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

async function appendSome(store: SqliteEventStore, n: number, stream = (i: number) => `vm-${i % 3}`): Promise<void> {
  for (let i = 0; i < n; i++) {
    const id = randomUUID();
    await store.append(
      stream(i),
      [
        {
          id,
          type: 'Noted',
          data: { i },
          metadata: {
            principal: 'test:sealer',
            correlationId: id,
            causationId: id,
            at: new Date().toISOString(),
            schema: 1,
          },
        },
      ],
      'any',
    );
  }
}

describe('sealer', () => {
  const tmp = tempDir('vl-sealer-');
  const store = new SqliteEventStore({ file: join(tmp.dir, 'store', 'events.sqlite3') });
  const keyFile = join(tmp.dir, 'keys', 'seal.key');
  const witnessFile = join(tmp.dir, 'witness', 'seals.ndjson');
  const sealer = () => new Sealer(store, { keyFile, witnessFile, everyEvents: 0, everyMs: 0, log: quiet });
  after(async () => {
    await store.close();
    tmp.cleanup();
  });

  test('two sealers at once: one seal lands, the other re-reads and seals on top next time', async () => {
    await store.init();
    await appendSome(store, 7);
    const [x, y] = [sealer(), sealer()];
    await Promise.all([x.start(), y.start()]);
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    const made = (await Promise.all([x.sealNow(), y.sealNow()])).filter((s) => s !== null);
    assert.equal(made.length, 1, 'exactly one owner sealed');
    await appendSome(store, 4);
    // x seals on top of whatever is latest (it re-read after losing, or it won); y's view is now stale.
    assert.equal((await x.sealNow())?.sequence, 1);
    assert.equal(await y.sealNow(), null, 'a stale sealer gets a conflict, not a fork');
    const key = parsePublicKey(x.publicKeyBase64);
    const r = await verifyStore(store, { keys: [key], witness: readWitness(witnessFile) });
    assert.equal(r.verified, true, JSON.stringify(r.problem));
    assert.equal(r.seals.verified, 2);
    await Promise.all([x.stop(), y.stop()]);
  });

  test('a restart rebuilds from the log, catches the witness up and seals on top with the same key', async () => {
    const keyBefore = readFileSync(keyFile, 'utf8');
    // A crash after the store's append but before the witness line: drop the witness's last line.
    const lines = readFileSync(witnessFile, 'utf8').trim().split('\n');
    writeFileSync(witnessFile, lines.slice(0, -1).join('\n') + '\n');
    await appendSome(store, 5);
    const s = sealer();
    await s.start();
    assert.equal(readWitness(witnessFile).length, 2, 'the missed seal is back in the witness');
    const next = await s.sealNow();
    assert.equal(next?.sequence, 2);
    assert.equal(await s.sealNow(), null, 'nothing new: no empty seal');
    assert.equal(readFileSync(keyFile, 'utf8'), keyBefore, 'the key is never regenerated');
    const r = await verifyStore(store, {
      keys: [parsePublicKey(s.publicKeyBase64)],
      witness: readWitness(witnessFile),
    });
    assert.equal(r.verified, true, JSON.stringify(r.problem));
    assert.equal(r.seals.verified, 3);
    assert.equal(r.unsealed, 0, 'seal events themselves are not counted as unsealed');
    await s.stop();
  });

  test('a sealer holds only the streams written since the latest seal, and still names each in the next seal', async () => {
    // The sealer's memory, which no API shows: its map of stream heads (the chaos load's census reads the same field).
    const held = (s: Sealer) => (s as unknown as { streams: Map<string, unknown> }).streams;
    await appendSome(store, 40, (i) => `many-${i}`);
    const first = sealer();
    await first.start();
    assert.equal(held(first).size, 41, 'the 40 new streams and the latest seal event, all unsealed');
    assert.ok(await first.sealNow());
    assert.equal(held(first).size, 0, 'a seal covers every stream it named: none is kept');
    await first.stop();

    await appendSome(store, 3, (i) => `after-${i}`);
    const restarted = sealer();
    await restarted.start();
    assert.deepEqual(
      [...held(restarted).keys()].sort(),
      ['$seals', 'after-0', 'after-1', 'after-2'],
      'a restart reads the whole log but keeps only what the latest seal does not cover',
    );
    const next = await restarted.sealNow();
    assert.deepEqual(next?.heads.map((h) => h.streamId).sort(), ['$seals', 'after-0', 'after-1', 'after-2']);
    const r = await verifyStore(store, {
      keys: [parsePublicKey(restarted.publicKeyBase64)],
      witness: readWitness(witnessFile),
    });
    assert.equal(r.verified, true, JSON.stringify(r.problem));
    assert.equal(r.unsealed, 0);
    await restarted.stop();
  });

  test('a store without readAllHashes is sealed from readAll: every new stream in the seal, verified', async () => {
    await appendSome(store, 5, (i) => `plain-${i}`);
    let readAlls = 0;
    // The store as one without the slim read (as a store that only has the port's required methods).
    const plain = new Proxy(store, {
      get(target, prop) {
        if (prop === 'readAllHashes') return undefined;
        const v = Reflect.get(target, prop, target) as unknown;
        if (prop === 'readAll') readAlls++;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const fromReadAll = new Sealer(plain, { keyFile, witnessFile, everyEvents: 0, everyMs: 0, log: quiet });
    await fromReadAll.start();
    const seal = await fromReadAll.sealNow();
    assert.ok(readAlls > 0, 'the log was read with readAll');
    assert.deepEqual(
      seal?.heads.filter((h) => h.streamId.startsWith('plain-')).map((h) => [h.streamId, h.revision]),
      [0, 1, 2, 3, 4].map((i) => [`plain-${i}`, 0]),
    );
    const r = await verifyStore(store, {
      keys: [parsePublicKey(fromReadAll.publicKeyBase64)],
      witness: readWitness(witnessFile),
    });
    assert.equal(r.verified, true, JSON.stringify(r.problem));
    assert.equal(r.unsealed, 0);
    await fromReadAll.stop();
  });

  test('a seal key readable by others is refused, and the key may not sit in the store directory', () => {
    chmodSync(keyFile, 0o644);
    assert.throws(() => sealer().init(), /readable by others/);
    chmodSync(keyFile, 0o600);
    assert.throws(
      () =>
        loadConfig({
          DATA_DIR: tmp.dir,
          EVENTSTORE_URL: 'sqlite:store/events.sqlite3',
          SEAL_KEY_FILE: 'store/seal.key',
        }),
      (err: unknown) => err instanceof ConfigError && /event store's directory/.test(err.message),
    );
    const ok = loadConfig({ DATA_DIR: tmp.dir });
    assert.equal(ok.sealKeyFile, join(tmp.dir, 'keys', 'seal.key'));
    assert.equal(ok.sealEveryEvents, 1000);
    assert.equal(ok.sealEveryMs, 60000);
  });
});

/** The store with its log-hash reads answered a turn later, as PostgreSQL's are (SQLite's answer at once). */
function withLaterReads(store: SqliteEventStore): EventStore {
  const later: EventStore['readAllHashes'] = async (options) => {
    const hashes = await store.readAllHashes(options);
    await new Promise<void>((resolve) => setImmediate(resolve));
    return hashes;
  };
  return new Proxy(store, {
    get: (target, key) => {
      if (key === 'readAllHashes') return later;
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

describe('sealer: a catch-up shares the event loop', () => {
  const tmp = tempDir('vl-sealer-turns-');
  const store = new SqliteEventStore({ file: join(tmp.dir, 'events.sqlite3') });
  after(async () => {
    await store.close();
    tmp.cleanup();
  });

  test('the log is read and hashed a page per turn: what waits for the loop runs between pages', async () => {
    await store.init();
    const n = 3 * SEALER_PAGE + 1;
    // In batches that share commits: one append at a time would be an fsync each.
    for (let done = 0; done < n; done += 100) {
      const batch = Math.min(100, n - done);
      await Promise.all(Array.from({ length: batch }, (_, k) => appendSome(store, 1, () => `vm-${(done + k) % 7}`)));
    }
    const sealer = new Sealer(store, {
      keyFile: join(tmp.dir, 'seal.key'),
      witnessFile: join(tmp.dir, 'seals.ndjson'),
      everyEvents: 0,
      everyMs: 0,
      log: quiet,
    });
    // Work that waits for the loop (as a request's next step does): counts the turns it got.
    let turns = 0;
    let counting = true;
    const other = (): void => {
      turns++;
      if (counting) setImmediate(other);
    };
    setImmediate(other);
    await sealer.start();
    counting = false;
    // Four pages (three full, one of a single event): the loop turned between them. All in one turn before.
    assert.ok(turns >= 3, `other work ran ${turns} times during a catch-up of ${n} events`);
    const seal = await sealer.sealNow();
    assert.equal(seal?.count, n, 'every event is sealed');
    const r = await verifyStore(store, { keys: [parsePublicKey(sealer.publicKeyBase64)] });
    assert.equal(r.verified, true, JSON.stringify(r.problem));
    await sealer.stop();
  });

  test('stopped and started again during a catch-up (a lease lost and won back): each event is folded once', async () => {
    // Reads that answer on a later turn, as PostgreSQL's do: two catch-ups at once would read the same page.
    const sealer = new Sealer(withLaterReads(store), {
      keyFile: join(tmp.dir, 'seal.key'),
      witnessFile: join(tmp.dir, 'seals-2.ndjson'),
      everyEvents: 0,
      everyMs: 0,
      log: quiet,
    });
    await appendSome(store, 5); // something the last test's seal does not cover
    const n = (await store.readAll()).length;
    const first = sealer.start();
    // The first start is between pages now (it yields after each): stop and start it again.
    await new Promise<void>((resolve) => setImmediate(resolve));
    await sealer.stop();
    await Promise.all([first, sealer.start()]);
    const seal = await sealer.sealNow();
    assert.equal(seal?.count, n, `the frontier holds each event of the log once (${seal?.count} for ${n})`);
    const r = await verifyStore(store, { keys: [parsePublicKey(sealer.publicKeyBase64)] });
    assert.equal(r.verified, true, JSON.stringify(r.problem));
    await sealer.stop();
  });

  test('stopped and started again at once during a catch-up: one seal timer while started, none once stopped', async () => {
    // The timers the sealer sets and clears, seen through the globals it calls.
    const live = new Set<unknown>();
    const realSet = globalThis.setInterval;
    const realClear = globalThis.clearInterval;
    globalThis.setInterval = ((...args: Parameters<typeof setInterval>) => {
      const t = realSet(...args);
      live.add(t);
      return t;
    }) as typeof setInterval;
    globalThis.clearInterval = ((t?: Parameters<typeof clearInterval>[0]) => {
      live.delete(t);
      realClear(t);
    }) as typeof clearInterval;
    try {
      const sealer = new Sealer(withLaterReads(store), {
        keyFile: join(tmp.dir, 'seal.key'),
        witnessFile: join(tmp.dir, 'seals-3.ndjson'),
        everyEvents: 0,
        everyMs: 60_000,
        log: quiet,
      });
      const first = sealer.start();
      await new Promise<void>((resolve) => setImmediate(resolve));
      // The stop not waited for: the second start comes while the first one's catch-up still runs.
      await Promise.all([first, sealer.stop(), sealer.start()]);
      assert.equal(live.size, 1, 'the first start, overtaken by the second, set no timer of its own');
      await sealer.stop();
      assert.equal(live.size, 0, 'a stopped sealer leaves no timer ticking');
    } finally {
      globalThis.setInterval = realSet;
      globalThis.clearInterval = realClear;
    }
  });
});
