/**
 * A projection meets an event it cannot apply (a poison event): the event is
 * parked once on parked-projection-<name>, the read model goes on with the
 * next event, and a restart from an older checkpoint does not park it twice.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { parkedStream } from '../../src/domain/parked.js';
import type { EventStore, RecordedEvent } from '../../src/eventstore/event-store.port.js';
import type { Projection, ProjectionTx } from '../../src/projections/projection.js';
import { ProjectionRunner } from '../../src/projections/projection-runner.js';
import { ReadModelKeys } from '../../src/projections/read-model.keys.js';
import { ShadowReplay } from '../../src/projections/shadow-replay.js';
import { deleteRedisPrefix } from '../support/app.js';
import { testRedisUrl, uniqueName } from '../support/env.js';
import { tempSqliteStore } from '../support/recording-store.js';

/** Counts `Tick` events per stream; a `Tick` without a numeric `n` is data it cannot read. */
class TickProjection implements Projection {
  readonly name = 'ticks';
  constructor(private readonly keys: ReadModelKeys) {}
  owns(key: string): boolean {
    return key.startsWith('tick:');
  }
  async apply(e: RecordedEvent, tx: ProjectionTx): Promise<void> {
    if (e.type !== 'Tick') return;
    const key = `${this.keys.root}tick:${e.streamId}`;
    const sum = (await tx.get<number>(key)) ?? 0;
    tx.set(key, sum + 1);
    if (typeof e.data.n !== 'number') throw new TypeError(`Tick ${e.id} has no n`);
  }
}

const tick = (n: unknown) => ({
  id: randomUUID(),
  type: 'Tick',
  data: { n },
  metadata: { principal: 'spec', correlationId: 'c', causationId: 'c', at: new Date().toISOString(), schema: 1 },
});

describe('projection runner: poison events are parked', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  });

  test('parked once with its error, the next event applied, not parked again after a restart', async () => {
    const tmp = await tempSqliteStore();
    cleanups.push(tmp.cleanup);
    const store: EventStore = tmp.store;
    const redis = new Redis(testRedisUrl());
    cleanups.push(async () => redis.disconnect());
    const prefix = uniqueName('vlt');
    cleanups.push(() => deleteRedisPrefix(prefix));
    const keys = new ReadModelKeys(prefix);
    const log = pino({ level: 'silent' });
    const start = async () => {
      const r = new ProjectionRunner(new TickProjection(keys), store, redis, keys, log);
      await r.start();
      cleanups.push(() => r.close());
      return r;
    };

    let runner = await start();
    await store.append('s', [tick(1)], 'no_stream');
    const poison = (await store.append('s', [tick('x')], 0n)).events[0]!;
    const next = await store.append('s', [tick(3)], 1n);
    assert.ok(await runner.waitFor(next.position, 15_000), 'the event after the poison one is applied');

    const sum = async () => JSON.parse((await redis.get(`${keys.root}tick:s`)) ?? 'null') as number | null;
    assert.equal(await sum(), 2, 'nothing of the half-applied poison event is written');
    assert.equal(runner.parked, 1);
    assert.equal(runner.lastParked?.eventId, poison.id);
    assert.match(runner.lastParked?.error ?? '', /^TypeError: Tick .* has no n$/);
    const parked = await store.readStream(parkedStream('projection-ticks'));
    assert.deepEqual(
      parked.map((e) => [e.data.consumer, e.data.position, e.data.eventId]),
      [['projection-ticks', poison.position.toString(), poison.id]],
    );

    // A replay of the log (replay-check, rebuild) skips it the same way, so it agrees with the live read model.
    const shadowKeys = keys.shadow('spec');
    await new ShadowReplay(store, redis, new TickProjection(shadowKeys), shadowKeys).replay();
    assert.equal(JSON.parse((await redis.get(`${shadowKeys.root}tick:s`)) ?? 'null'), 2);

    // A restart from a checkpoint before the poison event (as after a Redis restore): met again, not parked again.
    await runner.close();
    await redis.set(keys.checkpoint('ticks'), (poison.position - 1n).toString());
    runner = await start();
    assert.ok(await runner.waitFor(next.position, 15_000));
    assert.equal(runner.parked, 1);
    assert.equal((await store.readStream(parkedStream('projection-ticks'))).length, 1);
  });
});
