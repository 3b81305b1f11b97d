import { Redis } from 'ioredis';
import type { ConnectionOptions } from 'bullmq';
import type { Logger } from 'pino';

export interface RedisEndpoint {
  host: string;
  port: number;
  db: number;
  username?: string;
  password?: string;
  tls?: Record<string, never>;
}

export function redisOptions(url: string): RedisEndpoint {
  const u = new URL(url);
  return {
    host: u.hostname || '127.0.0.1',
    port: Number(u.port || 6379),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    db: u.pathname && u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0,
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

/** The process's Redis client and the BullMQ connection settings derived from the same URL. */
export interface RedisConnection {
  url: string;
  redis: Redis;
  /** For BullMQ's blocking workers and queue-event readers (maxRetriesPerRequest: null). */
  blocking: ConnectionOptions;
  /** For producers: fail fast instead of queueing forever. */
  producer: ConnectionOptions;
}

export async function connectRedis(url: string, log: Logger): Promise<RedisConnection> {
  const opts = redisOptions(url);
  const redis = new Redis({ ...opts, maxRetriesPerRequest: 2, enableOfflineQueue: false, lazyConnect: true });
  redis.on('error', (err) => log.debug({ err: err.message }, 'redis'));
  await redis.connect();
  return {
    url,
    redis,
    blocking: { ...opts, maxRetriesPerRequest: null },
    producer: { ...opts, maxRetriesPerRequest: 1, enableOfflineQueue: false },
  };
}
