import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { TcpProxy } from '../../chaos/support/tcp-proxy.js';
import { PostgresEventStore } from '../../src/eventstore/postgres/postgres.event-store.js';
import { PROJECTIONS } from '../../src/projections/projection-catalog.js';
import { ProjectionRunner } from '../../src/projections/projection-runner.js';
import { ReadModelKeys } from '../../src/projections/read-model.keys.js';
import { deleteRedisPrefix } from '../support/app.js';
import { testPostgresUrl, testRedisUrl, uniqueName } from '../support/env.js';
import { dropPostgresSchema } from '../support/store-kinds.js';
import { newEvent } from '../eventstore/contract/support.js';

const url = testPostgresUrl();

describe('projections outlive a store outage longer than the subscription retry budget', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  });

  test(
    'PostgreSQL cut past giveUpAfterMs, then back: the runner resubscribes and applies what came after',
    { skip: url ? false : 'TEST_POSTGRES_URL not set' },
    async () => {
      const pgUrl = new URL(url!);
      const proxy = await TcpProxy.start({ host: pgUrl.hostname, port: Number(pgUrl.port || 5432) });
      cleanups.push(() => proxy.cut());
      const schema = uniqueName('vl_resub');
      const viaProxy = new URL(url!);
      viaProxy.hostname = '127.0.0.1';
      viaProxy.port = String(proxy.port);
      const store = new PostgresEventStore({
        connectionString: viaProxy.toString(),
        schema,
        giveUpAfterMs: 500,
        pollIntervalMs: 100,
        connectTimeoutMs: 500,
      });
      await store.init();
      cleanups.push(() => dropPostgresSchema(`${url}${url!.includes('?') ? '&' : '?'}schema=${schema}`));
      cleanups.push(() => store.close());
      const redis = new Redis(testRedisUrl());
      const prefix = uniqueName('vlt');
      cleanups.push(async () => redis.disconnect());
      cleanups.push(() => deleteRedisPrefix(prefix));
      const keys = new ReadModelKeys(prefix);
      const lines: string[] = [];
      const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) });
      const runner = new ProjectionRunner(PROJECTIONS.hosts!(keys), store, redis, keys, log);
      await runner.start();
      cleanups.push(() => runner.close());

      const first = await store.append('misc-before', [newEvent()], 'no_stream');
      assert.ok(await runner.waitFor(first.position, 15_000), 'applied before the outage');

      await proxy.cut();
      const deadline = Date.now() + 15_000;
      while (!lines.some((l) => l.includes('resubscribing')) && Date.now() < deadline) await sleep(100);
      assert.ok(
        lines.some((l) => l.includes('resubscribing')),
        'the subscription gave up during the outage and the runner said it will resubscribe',
      );
      await proxy.restore();

      let after: Awaited<ReturnType<typeof store.append>> | undefined;
      while (!after && Date.now() < deadline + 15_000) {
        after = await store.append('misc-after', [newEvent()], 'no_stream').catch(() => undefined);
        if (!after) await sleep(200);
      }
      assert.ok(after, 'the store took appends again once PostgreSQL was back');
      assert.ok(await runner.waitFor(after.position, 20_000), 'the runner applies events appended after the outage');
    },
  );
});
