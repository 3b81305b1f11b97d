/**
 * The built all-in-one server (dist/src/main.js) as a child process, on a free port,
 * with its own data dir and Redis prefix: for the tests that need the production
 * logger or the process's own memory (security, load).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../src/runtime/free-port.js';
import { deleteRedisPrefix } from './app.js';
import { tempDir, testRedisUrl, uniqueName } from './env.js';

const MAIN = join(dirname(fileURLToPath(import.meta.url)), '../../src/main.js');

export interface ServerProcess {
  child: ChildProcess;
  base: string;
  dataDir: string;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** Resident set size of the server process, in MiB (from /proc). */
  rssMiB(): number;
  close(): Promise<void>;
}

/** `nodeArgs` go before the script (e.g. `--cpu-prof`, which NODE_OPTIONS does not accept). */
export async function startServerProcess(env: Record<string, string>, nodeArgs: string[] = []): Promise<ServerProcess> {
  const data = tempDir('vl-srv-');
  const prefix = uniqueName('vls');
  const port = await freePort();
  const child = spawn(process.execPath, [...nodeArgs, MAIN], {
    env: {
      PATH: process.env.PATH ?? '',
      DATA_DIR: data.dir,
      PORT: String(port),
      HOST_BIND: '127.0.0.1',
      REDIS_URL: testRedisUrl(),
      REDIS_PREFIX: prefix,
      SHUTDOWN_GRACE_MS: '2000',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString('utf8')));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString('utf8')));
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited ${child.exitCode}: ${out}`);
    try {
      if ((await fetch(`${base}/health`)).status < 600) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server never answered: ${out}`);
    }
    await sleep(100);
  }
  return {
    child,
    base,
    dataDir: data.dir,
    output: () => out,
    rssMiB() {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
      return Math.round((kb / 1024) * 10) / 10;
    },
    async close() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, sleep(10000)]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      await deleteRedisPrefix(prefix);
      data.cleanup();
    },
  };
}
