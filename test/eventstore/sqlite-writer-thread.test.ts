/**
 * The SQLite writer thread (sqlite.writer.worker.ts): appends are committed on a worker
 * thread and answered after the commit. What a caller must still be able to count on:
 * each expected revision checked (exactly the winners land, in order), a refused append
 * failing alone with the same error class as before, the hash chain and seals intact
 * after a burst, its own append visible to its next read and to subscribers, close()
 * answering every append in flight, and a dead thread failing what was in flight with
 * a clear error while the next append works again.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { UnavailableError, WrongExpectedVersionError } from '../../src/eventstore/errors.js';
import type { AppendResult, RecordedEvent } from '../../src/eventstore/event-store.port.js';
import { verifyChain } from '../../src/eventstore/hash-chain.js';
import { parsePublicKey } from '../../src/eventstore/seals/seal.js';
import { Sealer } from '../../src/eventstore/seals/sealer.js';
import { verifyStore } from '../../src/eventstore/seals/store-audit.js';
import { readWitness } from '../../src/eventstore/seals/witness.js';
import { SqliteEventStore } from '../../src/eventstore/sqlite/sqlite.event-store.js';
import type { WriterThread } from '../../src/eventstore/sqlite/sqlite.writer-thread.js';
import { tempDir } from '../support/env.js';
import { waitFor } from '../support/wait.js';
import { newEvent } from './contract/support.js';

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** The store's writer thread, reached the way only a test may: to kill it as a crash would. */
function writerOf(store: SqliteEventStore): WriterThread {
  const writer = (store as unknown as { writer?: WriterThread }).writer;
  assert.ok(writer, 'the store has a writer thread once init() returned');
  return writer;
}

describe('sqlite writer thread', () => {
  let dir: { dir: string; cleanup: () => void };
  let store: SqliteEventStore;

  before(async () => {
    dir = tempDir('vl-writer-thread-');
    store = new SqliteEventStore({ file: join(dir.dir, 'events.sqlite3') });
    await store.init();
  });
  after(async () => {
    await store.close();
    dir.cleanup();
  });

  test('many callers appending to one stream, each at the tip it read: exactly the winners land, in order, chained', async () => {
    const stream = 'wt-contended';
    const callers = 12;
    const perCaller = 8;
    let conflicts = 0;
    const caller = async (c: number): Promise<void> => {
      for (let k = 0; k < perCaller;) {
        const tip = (await store.readStream(stream).catch(() => [])).at(-1)?.revision;
        try {
          await store.append(stream, [newEvent('Step', { c, k })], tip === undefined ? 'no_stream' : tip);
          k++;
        } catch (err) {
          assert.ok(err instanceof WrongExpectedVersionError, `a conflict, not ${String(err)}`);
          assert.equal(err.streamId, stream, 'the error keeps its fields across the thread');
          conflicts++;
        }
      }
    };
    await Promise.all(Array.from({ length: callers }, (_, c) => caller(c)));
    const events = await store.readStream(stream);
    assert.equal(events.length, callers * perCaller, 'every success landed once, no refused append landed');
    assert.deepEqual(
      events.map((e) => e.revision),
      events.map((_, i) => BigInt(i)),
    );
    for (let c = 0; c < callers; c++) {
      const mine = events.filter((e) => e.data.c === c).map((e) => e.data.k);
      assert.deepEqual(mine, [...Array(perCaller).keys()], `caller ${c}'s appends in its own order`);
    }
    assert.equal(verifyChain(events), null);
    assert.ok(conflicts > 0, 'the callers did race (else this test proves nothing about the checks)');
  });

  test('appends issued together at the same expected revision: the first arrival wins, every other one is refused', async () => {
    const stream = 'wt-same-revision';
    await store.append(stream, [newEvent('Zero')], 'no_stream');
    const outcomes = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => store.append(stream, [newEvent('One', { i })], 0n)),
    );
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['fulfilled', ...Array(9).fill('rejected')],
    );
    for (const o of outcomes.slice(1)) {
      assert.ok((o as PromiseRejectedResult).reason instanceof WrongExpectedVersionError);
    }
    const events = await store.readStream(stream);
    assert.deepEqual(
      events.map((e) => [e.type, e.data.i]),
      [
        ['Zero', undefined],
        ['One', 0],
      ],
    );
  });

  test('an event id reused from another stream fails that append alone; the rest of its group is stored', async () => {
    const taken = newEvent('Taken');
    await store.append('wt-owner', [taken], 'no_stream');
    const outcomes = await Promise.allSettled([
      store.append('wt-ok-1', [newEvent()], 'no_stream'),
      store.append('wt-thief', [{ ...taken, type: 'Stolen' }], 'any'),
      store.append('wt-ok-2', [newEvent()], 'no_stream'),
    ]);
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    assert.ok((outcomes[1] as PromiseRejectedResult).reason instanceof WrongExpectedVersionError);
    await assert.rejects(store.readStream('wt-thief'), /not found/);
    assert.equal((await store.readStream('wt-ok-2')).length, 1);
  });

  test('bad input is refused on the caller side, before anything is posted', async () => {
    await assert.rejects(store.append('wt-bad', [], 'any'), RangeError);
    await assert.rejects(store.append('wt-bad', [{ ...newEvent(), type: '' }], 'any'), TypeError);
    await assert.rejects(store.readStream('wt-bad'), /not found/);
  });

  test('a caller reads its own append at once, and a subscriber is woken by the commit (not by its poll)', async () => {
    // A poll so slow that only the wake signal can deliver within the wait below.
    const own = new SqliteEventStore({ file: store.file, pollIntervalMs: 600_000 });
    await own.init();
    const seen: RecordedEvent[] = [];
    const sub = own.subscribeToAll({
      after: (await own.headPosition()) ?? 0n,
      onEvent: async (e) => {
        seen.push(e);
      },
    });
    try {
      for (let i = 0; i < 20; i++) {
        const r = await own.append(`wt-ryw-${i % 3}`, [newEvent('Mine', { i })], 'any');
        const stream = await own.readStream(`wt-ryw-${i % 3}`);
        assert.equal(stream.at(-1)?.id, r.events[0]!.id, 'the stream read right after the append has it');
        assert.equal((await own.readAll({ after: r.position - 1n, maxCount: 1 }))[0]?.id, r.events[0]!.id);
        assert.equal(await own.headPosition(), r.position);
      }
      await waitFor(() => seen.filter((e) => e.type === 'Mine').length === 20, {
        what: 'the subscriber to get all 20',
      });
    } finally {
      await sub.stop();
      await own.close();
    }
  });

  test('checkpoints are written through the thread and read back at once', async () => {
    await store.writeCheckpoint('wt-cp', 41n);
    await store.writeCheckpoint('wt-cp', 42n);
    assert.equal(await store.readCheckpoint('wt-cp'), 42n);
  });

  test('appends and checkpoint writes made from separate callbacks of one turn keep their call order and their own answers', async () => {
    // Calls of one event-loop turn travel to the thread together: each must still land in call order,
    // a checkpoint between them included, and a refused one fail alone.
    const stream = 'wt-one-turn';
    await store.append(stream, [newEvent('Zero')], 'no_stream');
    const calls = await new Promise<Promise<unknown>[]>((resolve) => {
      const made: Promise<unknown>[] = [];
      const make = (call: () => Promise<unknown>) => setImmediate(() => made.push(call()));
      make(() => store.append(stream, [newEvent('One')], 0n));
      make(() => store.writeCheckpoint('wt-one-turn', 7n));
      make(() => store.append(stream, [newEvent('Stale')], 0n));
      make(() => store.append(stream, [newEvent('Two')], 1n));
      make(() => store.writeCheckpoint('wt-one-turn', 8n));
      setImmediate(() => resolve(made));
    });
    const outcomes = await Promise.allSettled(calls);
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled'],
    );
    assert.ok((outcomes[2] as PromiseRejectedResult).reason instanceof WrongExpectedVersionError);
    const events = await store.readStream(stream);
    assert.deepEqual(
      events.map((e) => e.type),
      ['Zero', 'One', 'Two'],
    );
    assert.ok(events[1]!.position < events[2]!.position);
    assert.equal(await store.readCheckpoint('wt-one-turn'), 8n);
  });

  test('a burst through the thread keeps every chain and the seals verifiable', async () => {
    const keyFile = join(dir.dir, 'keys', 'seal.key');
    const witnessFile = join(dir.dir, 'witness', 'seals.ndjson');
    const sealer = new Sealer(store, { keyFile, witnessFile, everyEvents: 0, everyMs: 0, log: quiet });
    await sealer.start();
    try {
      for (let round = 0; round < 3; round++) {
        await Promise.all(
          Array.from({ length: 150 }, (_, i) =>
            store.append(`wt-burst-${i % 10}`, [newEvent('B', { round, i }), newEvent('C')], 'any'),
          ),
        );
        assert.ok(await sealer.sealNow(), `seal ${round} made`);
      }
      const r = await verifyStore(store, {
        keys: [parsePublicKey(sealer.publicKeyBase64)],
        witness: readWitness(witnessFile),
      });
      assert.equal(r.verified, true, JSON.stringify(r.problem));
      assert.ok(r.seals.verified >= 3);
      for (let s = 0; s < 10; s++) {
        const events = await store.readStream(`wt-burst-${s}`);
        assert.equal(events.length, 90);
        assert.equal(verifyChain(events), null);
      }
    } finally {
      await sealer.stop();
    }
  });

  test('close() with appends in flight answers every one of them, and all of them are stored', async () => {
    const other = tempDir('vl-writer-close-');
    const file = join(other.dir, 'events.sqlite3');
    const closing = new SqliteEventStore({ file });
    await closing.init();
    try {
      const inFlight = Array.from({ length: 200 }, (_, i) =>
        closing.append(`wt-close-${i % 7}`, [newEvent('Late', { i })], 'any'),
      );
      const closed = closing.close();
      const results = await Promise.all(inFlight);
      await closed;
      await assert.rejects(closing.append('wt-close-0', [newEvent()], 'any'), /not open/);
      const reopened = new SqliteEventStore({ file });
      await reopened.init();
      try {
        assert.equal(await reopened.countEvents(), 200);
        const stored = new Set((await reopened.readAll()).map((e) => e.id));
        for (const r of results) assert.ok(stored.has(r.events[0]!.id));
      } finally {
        await reopened.close();
      }
    } finally {
      other.cleanup();
    }
  });

  test('a writer thread that dies fails what was in flight with an UnavailableError (outcome unknown); the next append starts a new one', async () => {
    const stream = 'wt-crash';
    await store.append(stream, [newEvent('Before')], 'no_stream');
    const events = Array.from({ length: 30 }, (_, i) => newEvent('InFlight', { i }));
    const inFlight = events.map((e) => store.append(`${stream}-${e.data.i as number}`, [e], 'no_stream'));
    await writerOf(store).terminate();
    const outcomes = await Promise.allSettled(inFlight);
    const failed = outcomes.flatMap((o, i) => (o.status === 'rejected' ? [{ reason: o.reason as unknown, i }] : []));
    assert.ok(failed.length > 0, 'the thread was killed with appends in flight');
    for (const f of failed) {
      assert.ok(f.reason instanceof UnavailableError, String(f.reason));
      assert.equal(f.reason.outcomeUnknown, true);
      assert.match(f.reason.message, /writer thread/);
    }
    // The store is usable again, and repeating a failed append with its ids is safe whatever happened to it.
    const next = await store.append(stream, [newEvent('After')], 0n);
    assert.equal(next.nextExpectedRevision, 1n);
    for (const f of failed) {
      const again: AppendResult = await store.append(`${stream}-${f.i}`, [events[f.i]!], 'no_stream');
      assert.equal(again.events[0]!.id, events[f.i]!.id);
    }
    for (let i = 0; i < events.length; i++) {
      const stored = await store.readStream(`${stream}-${i}`);
      assert.deepEqual(
        stored.map((e) => e.id),
        [events[i]!.id],
        'each event stored exactly once',
      );
    }
  });

  test('an open store whose appends were answered does not keep its process alive', async () => {
    const other = tempDir('vl-writer-exit-');
    try {
      const module = new URL('../../src/eventstore/sqlite/sqlite.event-store.js', import.meta.url).href;
      const script = `
        const { SqliteEventStore } = await import(${JSON.stringify(module)});
        const s = new SqliteEventStore({ file: ${JSON.stringify(join(other.dir, 'e.sqlite3'))} });
        await s.init();
        const r = await s.append('x', [${JSON.stringify(newEvent('T'))}], 'no_stream');
        console.log('appended', String(r.position));`;
      // The timeout only bounds a failure (a process kept alive would be killed and fail the assertion).
      const scriptFile = join(other.dir, 'append-and-exit.mjs');
      writeFileSync(scriptFile, script);
      const child = spawn(process.execPath, [scriptFile], {
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 60_000,
      });
      let out = '';
      child.stdout.on('data', (b: Buffer) => (out += b.toString()));
      child.stderr.on('data', (b: Buffer) => (out += b.toString()));
      const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
        child.on('exit', (c, sig) => resolve([c, sig])),
      );
      assert.equal(signal, null, `the process had to be killed: it did not exit on its own\n${out}`);
      assert.equal(code, 0, out);
      assert.match(out, /appended 1/);
    } finally {
      other.cleanup();
    }
  });
});
