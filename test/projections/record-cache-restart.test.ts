/**
 * A runner stopped and started again over a read model nobody touched meanwhile (the lease
 * lost and taken back) keeps the records it had in memory instead of reading each from Redis
 * again; after a rebuild's swap at the same checkpoint it reads what the swap left. What it
 * committed is what it answers for a key (`committed`), and nothing while it is stopped.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { SqliteEventStore } from '../../src/eventstore/sqlite/sqlite.event-store.js';
import type { Projection, ProjectionTx } from '../../src/projections/projection.js';
import { ProjectionRunner } from '../../src/projections/projection-runner.js';
import { ReadModelKeys } from '../../src/projections/read-model.keys.js';
import { swapReadModel } from '../../src/projections/swap-read-model.js';
import { deleteRedisPrefix } from '../support/app.js';
import { testRedisUrl, uniqueName } from '../support/env.js';
import { newEvent } from '../eventstore/contract/support.js';

/** Counts the events it saw in one record: each event reads the record and writes it back. */
class CountingProjection implements Projection {
  readonly name = 'counting';
  readonly keyPattern = 'count*';
  constructor(private readonly keys: ReadModelKeys) {}

  key(): string {
    return `${this.keys.root}count`;
  }

  async apply(_e: unknown, tx: ProjectionTx): Promise<void> {
    const n = (await tx.get<number>(this.key())) ?? 0;
    tx.set(this.key(), n + 1);
  }

  owns(relativeKey: string): boolean {
    return relativeKey === 'count';
  }
}

describe('a restarted runner keeps its records while the read model is as it left it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vl-cache-restart-'));
  const prefix = uniqueName('vlcache');
  const keys = new ReadModelKeys(prefix);
  const projection = new CountingProjection(keys);
  let store: SqliteEventStore;
  let redis: Redis;
  let runner: ProjectionRunner;
  /** GETs of the record from Redis by the runner (its cache's misses). */
  let recordReads = 0;

  before(async () => {
    store = new SqliteEventStore({ file: join(dir, 'events.sqlite3'), pollIntervalMs: 50 });
    await store.init();
    redis = new Redis(testRedisUrl());
    const counting = new Proxy(redis, {
      get(target, prop) {
        if (prop === 'get') {
          return (key: string) => {
            if (key === projection.key()) recordReads++;
            return target.get(key);
          };
        }
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    runner = new ProjectionRunner(projection, store, counting, keys, pino({ level: 'silent' }));
  });
  after(async () => {
    await runner.close();
    await store.close();
    await deleteRedisPrefix(prefix);
    redis.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });

  const appendOne = async (): Promise<void> => {
    const { position } = await store.append('counted', [newEvent()], 'any');
    assert.ok(await runner.waitFor(position, 15_000), 'applied');
  };
  const stored = async (): Promise<number> => Number(await redis.get(projection.key()));

  test('stop and start at the same checkpoint: the next event reads nothing from Redis', async () => {
    await runner.start();
    await appendOne();
    await appendOne();
    await runner.stop();
    await runner.start();
    const reads = recordReads;
    await appendOne();
    assert.equal(recordReads, reads, 'the record came from memory');
    assert.equal(await stored(), 3);
  });

  test('a swap at the same checkpoint drops the records in memory: the runner folds on what Redis holds', async () => {
    const position = runner.position;
    await runner.paused(async () => {
      // A rebuild that found the read model empty (an empty shadow), swapped in at the same position.
      await swapReadModel(redis, projection, keys, keys.shadow('empty'), position, []);
    });
    assert.equal(await redis.exists(projection.key()), 0, 'the swap took the record out');
    await appendOne();
    assert.equal(await stored(), 1, 'counted from what the swap left, not from the records in memory');
  });

  test('committed answers what the runner last committed, as Redis holds it; nothing while it is stopped', async () => {
    await appendOne();
    const inRedis = await stored();
    assert.equal(runner.committed(projection.key()), inRedis);
    assert.equal(runner.committed(`${keys.root}never-written`), undefined);
    await runner.stop();
    // A paused runner's keys may be swapped under it: it does not answer for them.
    assert.equal(runner.committed(projection.key()), undefined);
    await runner.start();
  });

  test('another runner moved the checkpoint meanwhile: the record is read from Redis again', async () => {
    await runner.stop();
    await redis.set(projection.key(), '10');
    const { position } = await store.append('counted', [newEvent()], 'any');
    await redis.set(keys.checkpoint(projection.name), position.toString());
    await runner.start();
    const reads = recordReads;
    await appendOne();
    assert.equal(recordReads, reads + 1, 'read from Redis');
    assert.equal(await stored(), 11);
  });
});
