import { Redis, type RedisOptions } from 'ioredis';
import { deleteKeysWithPrefix } from '../../src/projections/redis-keys.js';
import { testRedisUrl, uniqueName } from './env.js';

/** A test's own corner of the shared Redis: a unique key prefix, a connection, and a cleanup. */
export interface RedisForTest {
  /** `<stem>_<random>`: no other run (or other helper's run) shares it. */
  readonly prefix: string;
  /** `<prefix>:<rest>`, the shape cleanup() deletes: a key written under another shape is left behind. */
  key(rest: string): string;
  /** The test's connection, opened on first use (a file whose keys are written by other processes never opens it before cleanup). */
  readonly redis: Redis;
  /** Deletes every `<prefix>:*` key and disconnects. Call it after whatever still writes under the prefix has stopped. */
  cleanup(): Promise<void>;
}

/**
 * One place for the setup that files using the shared Redis repeat: the prefix keeps this run's keys
 * apart from every other run's, and cleanup leaves the shared Redis as it was. `options` are for a
 * connection that differs on purpose (e.g. `maxRetriesPerRequest`).
 *
 * Cleanup is called by the file (`after(() => own.cleanup())`), not registered here: most files
 * must first close what writes under the prefix (queues, leases, subscribers), and the order of
 * that is clearest written in the file's own `after`.
 */
export function redisForTest(stem: string, options: RedisOptions = {}): RedisForTest {
  const prefix = uniqueName(stem);
  let client: Redis | undefined;
  const connection = (): Redis => (client ??= new Redis(testRedisUrl(), options));
  return {
    prefix,
    key: (rest) => `${prefix}:${rest}`,
    get redis() {
      return connection();
    },
    async cleanup() {
      const redis = connection();
      await deleteKeysWithPrefix(redis, prefix);
      redis.disconnect();
      client = undefined;
    },
  };
}

/** Every key under `root` (by its name after `root`) with its type and contents as Redis holds them: strings and zsets. */
export async function redisContents(redis: Redis, root: string): Promise<Map<string, unknown>> {
  const out = new Map<string, unknown>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${root}*`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const type = await redis.type(key);
      const value = type === 'zset' ? await redis.zrange(key, 0, -1, 'WITHSCORES') : await redis.get(key);
      out.set(key.slice(root.length), { type, value });
    }
  } while (cursor !== '0');
  return out;
}
