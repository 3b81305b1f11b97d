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
  /**
   * For the read models' queries (ReadModels): auto-pipelined, so the commands the requests in one turn of
   * the event loop send go out in one socket write instead of one write each (under load each write was a
   * syscall on the main thread: ~7 % of its CPU). Reads only, on a connection of their own: nothing on it
   * depends on the order of commands sent on another without awaiting their answers.
   */
  reads: Redis;
  /** For BullMQ's blocking workers and queue-event readers (maxRetriesPerRequest: null). */
  blocking: ConnectionOptions;
  /** For producers: fail fast instead of queueing forever. */
  producer: ConnectionOptions;
}

export async function connectRedis(url: string, log: Logger): Promise<RedisConnection> {
  const opts = redisOptions(url);
  const redis = new Redis({ ...opts, maxRetriesPerRequest: 2, enableOfflineQueue: false, lazyConnect: true });
  redis.on('error', (err) => log.debug({ err: err.message }, 'redis'));
  const reads = new Redis({
    ...opts,
    maxRetriesPerRequest: 2,
    enableOfflineQueue: false,
    lazyConnect: true,
    enableAutoPipelining: true,
  });
  reads.on('error', (err) => log.debug({ err: err.message }, 'redis (reads)'));
  try {
    await redis.connect();
    await reads.connect();
  } catch (err) {
    redis.disconnect();
    reads.disconnect();
    throw err;
  }
  return {
    url,
    redis,
    reads,
    blocking: { ...opts, maxRetriesPerRequest: null },
    producer: { ...opts, maxRetriesPerRequest: 1, enableOfflineQueue: false },
  };
}
