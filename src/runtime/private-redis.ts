import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import type { Logger } from './logger.js';
import { waitForRedis } from './wait-for-redis.js';

export class RedisNotInstalledError extends Error {
  override readonly name = 'RedisNotInstalledError';
  constructor() {
    super(
      'REDIS_URL is not set and no redis-server is on PATH. Install one (Debian/Ubuntu: apt-get install -y redis-server; ' +
        'macOS: brew install redis) or set REDIS_URL=redis://host:port',
    );
  }
}

export interface PrivateRedis {
  url: string;
  stop(): Promise<void>;
}

/**
 * Zero-setup runs: a redis-server of our own on a free loopback port, files
 * under DATA_DIR/redis. It keeps an append-only file so queues survive a
 * restart of the service, but nothing depends on that: read models rebuild
 * from the log and sagas resume from checkpoints kept in the event store.
 */
export async function startPrivateRedis(dataDir: string, log: Logger): Promise<PrivateRedis> {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) throw new RedisNotInstalledError();
  const dir = join(dataDir, 'redis');
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const child: ChildProcess = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--appendonly',
      'yes',
      '--save',
      '',
      '--daemonize',
      'no',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
  const url = `redis://127.0.0.1:${port}`;
  await waitForRedis(
    url,
    10000,
    () => (child.exitCode !== null ? `private redis-server exited (${child.exitCode}): ${stderr.trim()}` : undefined),
    () => `private redis-server did not answer on ${url}: ${stderr.trim()}`,
  );
  log.info({ url, dir }, 'REDIS_URL not set: started a private redis-server');
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
