/**
 * The process's Redis connections: the read models' queries go out auto-pipelined on a
 * connection of their own — the commands of one turn of the event loop in one socket
 * write (under load one write per command was ~7 % of the main thread) — and answer as
 * the main connection does.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { Socket } from 'node:net';
import { pino } from 'pino';
import { connectRedis, type RedisConnection } from '../../src/runtime/redis-connection.js';
import { testRedisUrl, uniqueName } from '../support/env.js';

describe('Redis connections of a process', () => {
  const conns: RedisConnection[] = [];
  after(() => {
    for (const c of conns) {
      c.redis.disconnect();
      c.reads.disconnect();
    }
  });

  /** Socket writes while `fn` runs its commands (ioredis keeps its socket as `stream`). */
  const writesDuring = async (client: RedisConnection['reads'], fn: () => Promise<unknown>) => {
    const socket = (client as unknown as { stream: Socket }).stream;
    const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
    let writes = 0;
    socket.write = ((...args: unknown[]) => (writes++, write(...args))) as Socket['write'];
    try {
      await fn();
    } finally {
      socket.write = write as Socket['write'];
    }
    return writes;
  };

  test('the reads connection sends the commands of one turn in one write and answers each', async () => {
    const conn = await connectRedis(testRedisUrl(), pino({ level: 'silent' }));
    conns.push(conn);
    const prefix = uniqueName('vlconn');
    await conn.redis.mset(...Array.from({ length: 20 }, (_, i) => [`${prefix}:${i}`, `v${i}`]).flat());
    try {
      const keys = Array.from({ length: 20 }, (_, i) => `${prefix}:${i}`);
      let answers: Array<string | null> = [];
      const pipelined = await writesDuring(conn.reads, async () => {
        answers = await Promise.all(keys.map((k) => conn.reads.get(k)));
      });
      assert.deepEqual(
        answers,
        keys.map((_, i) => `v${i}`),
      );
      assert.equal(pipelined, 1, 'twenty GETs sent in one turn went out in one write');
      // The main connection is not pipelined (commands there keep their order against MULTIs and scripts).
      const direct = await writesDuring(conn.redis, () => Promise.all(keys.map((k) => conn.redis.get(k))));
      assert.equal(direct, 20);
    } finally {
      await conn.redis.del(...Array.from({ length: 20 }, (_, i) => `${prefix}:${i}`));
    }
  });
});
