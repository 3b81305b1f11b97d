import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../src/runtime/free-port.js';

import { tempDir } from '../support/env.js';
import { waitFor as waitUntil } from '../support/wait.js';

const MAIN = join(dirname(fileURLToPath(import.meta.url)), '../../src/main.js');

function run(env: Record<string, string>, args: string[] = []) {
  return spawnSync(process.execPath, [MAIN, ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
    timeout: 20000,
  });
}

async function waitFor(url: string, headers: Record<string, string> = {}, timeoutMs = 20000): Promise<Response> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fetch(url, { headers });
    } catch {
      if (Date.now() > deadline) throw new Error(`${url} never answered`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

describe('the process: configuration, zero-setup start, drain', () => {
  const dirs: Array<{ cleanup: () => void }> = [];

  after(async () => {
    for (const d of dirs) d.cleanup();
  });

  test('invalid configuration stops the process at start, naming the variable', () => {
    for (const [env, name] of [
      [{ PORT: 'abc' }, 'PORT'],
      [{ REDIS_URL: 'http://x' }, 'REDIS_URL'],
      [{ EVENTSTORE_URL: 'mysql://x' }, 'EVENTSTORE_URL'],
      [{ AUTH_TOKENS: 'root:short' }, 'AUTH_TOKENS'],
      [{ JOB_ATTEMPTS: '0' }, 'JOB_ATTEMPTS'],
    ] as const) {
      const r = run({ ...env, DATA_DIR: '/nonexistent-never-created' });
      assert.equal(r.status, 2, `${name}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`${name}:`));
    }
    const w = run({}, ['--role', 'worker']);
    assert.equal(w.status, 2);
    assert.match(w.stderr, /WORKER_HOSTS: the worker role needs --host/);
  });

  test('without REDIS_URL and without redis-server on PATH it says how to install one', () => {
    const data = tempDir('vl-proc-');
    dirs.push(data);
    const r = spawnSync(process.execPath, [MAIN], {
      env: { PATH: '/nonexistent', DATA_DIR: data.dir },
      encoding: 'utf8',
      timeout: 20000,
    });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /apt-get install -y redis-server/);
    assert.match(r.stderr, /REDIS_URL/);
  });

  test('zero setup: private Redis, generated admin token, SQLite under DATA_DIR; SIGTERM drains and exits 0', async () => {
    const data = tempDir('vl-proc-');
    dirs.push(data);
    const port = await freePort();
    const child = spawn(process.execPath, [MAIN], {
      env: {
        PATH: process.env.PATH ?? '',
        DATA_DIR: data.dir,
        PORT: String(port),
        LOG_LEVEL: 'info',
        SHUTDOWN_GRACE_MS: '10000',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      const health = await waitFor(`http://127.0.0.1:${port}/health`);
      assert.equal(health.status, 200);
      const tokenFile = join(data.dir, 'admin.token');
      assert.ok(existsSync(tokenFile));
      assert.equal(statSync(tokenFile).mode & 0o777, 0o600);
      const token = readFileSync(tokenFile, 'utf8').trim();
      assert.ok(!out.includes(token), 'the token is never logged');
      assert.match(out, /started a private redis-server/);
      assert.ok(existsSync(join(data.dir, 'events.sqlite3')));
      const h = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
      const host = await fetch(`http://127.0.0.1:${port}/v1/hosts`, {
        method: 'POST',
        headers: h,
        body: JSON.stringify({
          name: 'slow',
          driver: 'simulated',
          uri: 'simulated://?latencyMs=1500',
          capacity: { vcpus: 4, memoryMiB: 4096 },
        }),
      });
      assert.equal(host.status, 201);
      const created = await fetch(`http://127.0.0.1:${port}/v1/vms`, {
        method: 'POST',
        headers: h,
        body: JSON.stringify({ name: 'drain', vcpus: 1, memoryMiB: 64, diskGiB: 1, start: false }),
      });
      assert.equal(created.status, 202);
      const { operationId } = (await created.json()) as { operationId: string };
      // Wait until the define job has started (the worker said so: the operation is running), then ask
      // the process to stop while the driver call (1.5 s) is in flight.
      await waitUntil(
        async () => {
          const op = await fetch(`http://127.0.0.1:${port}/v1/operations/${operationId}`, { headers: h });
          // Past pending: started (or, on a stalled machine, already done: the restart check below still holds).
          return op.ok && ((await op.json()) as { status: string }).status !== 'pending';
        },
        { what: 'the define job to start', timeoutMs: 20_000 },
      );
      child.kill('SIGTERM');
      assert.equal(await exited, 0, out);
      assert.match(out, /draining/);
      // Same DATA_DIR again: the job that was in flight finished (or resumes) and the operation completes once.
      const again = spawn(process.execPath, [MAIN], {
        env: { PATH: process.env.PATH ?? '', DATA_DIR: data.dir, PORT: String(port), LOG_LEVEL: 'warn' },
        stdio: 'ignore',
      });
      try {
        await waitFor(`http://127.0.0.1:${port}/health`);
        const op = await waitFor(`http://127.0.0.1:${port}/v1/operations/${operationId}?waitMs=15000`, h);
        const body = (await op.json()) as { status: string };
        assert.equal(body.status, 'succeeded', JSON.stringify(body));
      } finally {
        again.kill('SIGTERM');
        await new Promise((r) => again.once('exit', r));
      }
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
