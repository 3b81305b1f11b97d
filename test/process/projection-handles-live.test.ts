/**
 * The live runner hands a read model only the events its `handles` accepts (a replay already did):
 * an ignored event costs no apply, yet the checkpoint moves past it and read-your-writes on its
 * stream (`waitForStream`, the `applied` event) still answers.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import type { RecordedEvent } from '../../src/eventstore/event-store.port.js';
import type { Projection, ProjectionTx } from '../../src/projections/projection.js';
import { ProjectionRunner } from '../../src/projections/projection-runner.js';
import { ReadModelKeys } from '../../src/projections/read-model.keys.js';
import { deleteRedisPrefix } from '../support/app.js';
import { testRedisUrl, uniqueName } from '../support/env.js';
import { tempSqliteStore } from '../support/recording-store.js';

/** Counts `Tick` events per stream and says it handles nothing else; remembers what apply was given. */
class TickProjection implements Projection {
  readonly name = 'ticks';
  readonly applied: string[] = [];
  constructor(private readonly keys: ReadModelKeys) {}
  owns(key: string): boolean {
    return key.startsWith('tick:');
  }
  handles(e: Pick<RecordedEvent, 'type'>): boolean {
    return e.type === 'Tick';
  }
  async apply(e: RecordedEvent, tx: ProjectionTx): Promise<void> {
    this.applied.push(e.type);
    if (e.type !== 'Tick') return;
    const key = `${this.keys.root}tick:${e.streamId}`;
    tx.set(key, ((await tx.get<number>(key)) ?? 0) + 1);
  }
}

const event = (type: string) => ({
  id: randomUUID(),
  type,
  data: {},
  metadata: { principal: 'spec', correlationId: 'c', causationId: 'c', at: new Date().toISOString(), schema: 1 },
});

describe('projection runner: events the read model does not handle', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  });

  test('are not handed to apply; the checkpoint and read-your-writes still pass them', async () => {
    const tmp = await tempSqliteStore();
    cleanups.push(tmp.cleanup);
    const redis = new Redis(testRedisUrl());
    cleanups.push(async () => redis.disconnect());
    const prefix = uniqueName('vlt');
    cleanups.push(() => deleteRedisPrefix(prefix));
    const keys = new ReadModelKeys(prefix);
    const projection = new TickProjection(keys);
    const runner = new ProjectionRunner(projection, tmp.store, redis, keys, pino({ level: 'silent' }));
    await runner.start();
    cleanups.push(() => runner.close());

    const seen: string[] = [];
    runner.on('applied', (e: RecordedEvent) => seen.push(e.type));
    await tmp.store.append('s', [event('Tick'), event('Other'), event('Tick')], 'no_stream');
    // The last event of the log is one the read model ignores.
    const other = (await tmp.store.append('o', [event('Other')], 'no_stream')).events[0]!;
    assert.ok(await runner.waitForStream('o', other.revision, other.position, 15_000), 'its stream is reached');

    assert.deepEqual(projection.applied, ['Tick', 'Tick'], 'apply saw the Ticks alone');
    assert.equal(JSON.parse((await redis.get(`${keys.root}tick:s`)) ?? 'null'), 2);
    assert.equal(await redis.get(keys.checkpoint('ticks')), other.position.toString(), 'checkpoint past the ignored');
    assert.deepEqual(seen, ['Tick', 'Other', 'Tick', 'Other'], '`applied` is told of every event');
  });
});
