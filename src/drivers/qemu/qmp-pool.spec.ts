import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { FakeQmp, QMP_GREETING, qmpReply } from '../../../test/support/fake-qmp.js';
import { waitFor } from '../../../test/support/wait.js';
import { QmpPool } from './qmp-pool.js';
import type { QmpStatusInfo } from './qmp.types.js';

/** A fake QEMU that answers query-status and keeps the server side of each connection it greeted. */
class CountingQmp {
  readonly connections: Socket[] = [];
  readonly closed = new Set<Socket>();
  readonly fake: FakeQmp;

  constructor(dir: string) {
    this.fake = new FakeQmp(
      dir,
      (req, socket) => socket.write(qmpReply(req, '"return": {"status": "running", "running": true}')),
      {
        greeting: (socket) => {
          this.connections.push(socket);
          socket.on('close', () => this.closed.add(socket));
          socket.write(`${QMP_GREETING}\r\n`);
        },
      },
    );
  }

  get open(): number {
    return this.connections.length - this.closed.size;
  }
}

describe('QmpPool (fake QMP server)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vl-qmp-pool-'));
  const fakes: FakeQmp[] = [];
  after(() => {
    for (const f of fakes) f.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const qemu = async (): Promise<CountingQmp> => {
    const q = new CountingQmp(dir);
    fakes.push(await q.fake.listen());
    return q;
  };
  const status = (pool: QmpPool, path: string, hold = false): Promise<QmpStatusInfo> =>
    pool.use(path, (c) => {
      if (hold) assert.equal(pool.hold(path), true);
      return c.execute<QmpStatusInfo>('query-status');
    });

  test('a connection closes when its last user is done; a held one serves the next user until released', async () => {
    const q = await qemu();
    const pool = new QmpPool({ connectTimeoutMs: 2_000, commandTimeoutMs: 2_000 });
    assert.equal((await status(pool, q.fake.path)).status, 'running');
    await waitFor(() => q.closed.size === 1, { what: 'the unheld connection to close' });

    await status(pool, q.fake.path, true);
    await status(pool, q.fake.path);
    await status(pool, q.fake.path);
    assert.equal(q.connections.length, 2, 'the held connection served both later users: no new greeting');
    assert.equal(q.open, 1, 'and it is still open');

    pool.release(q.fake.path);
    await waitFor(() => q.open === 0, { what: 'the released connection to close' });
    await status(pool, q.fake.path);
    assert.equal(q.connections.length, 3, 'after the release, a user connects afresh');
  });

  test('a held connection that QEMU closed is replaced by a new one on the next use', async () => {
    const q = await qemu();
    const pool = new QmpPool({ connectTimeoutMs: 2_000, commandTimeoutMs: 2_000 });
    let seenClosed = false;
    await pool.use(q.fake.path, async (c) => {
      pool.hold(q.fake.path);
      c.onClose(() => (seenClosed = true));
      return c.execute('query-status');
    });
    q.connections[0]!.destroy(); // QEMU's side goes (QEMU exited, or dropped the client)
    await waitFor(() => seenClosed, { what: 'the client to see its connection closed' });

    assert.equal((await status(pool, q.fake.path)).status, 'running');
    assert.equal(q.connections.length, 2, 'a new connection was opened');
    pool.release(q.fake.path);
    await waitFor(() => q.open === 0, { what: 'the replacement (not held) to close after its use' });
  });

  test('an idle held connection does not keep the process running', async () => {
    const q = await qemu();
    const poolModule = new URL('./qmp-pool.js', import.meta.url).href;
    const script =
      `const { QmpPool } = await import(${JSON.stringify(poolModule)});` +
      `const pool = new QmpPool({ connectTimeoutMs: 2000, commandTimeoutMs: 2000 });` +
      `const path = ${JSON.stringify(q.fake.path)};` +
      `await pool.use(path, async (c) => { pool.hold(path); return c.execute('query-status'); });` +
      `console.log('held');`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    let code: number | null | undefined;
    child.on('exit', (c) => (code = c));
    try {
      await waitFor(() => code !== undefined, { what: `the process holding the connection to exit (output: ${out})` });
    } finally {
      child.kill('SIGKILL');
    }
    assert.equal(code, 0, out);
    assert.match(out, /held/);
    assert.equal(q.connections.length, 1, 'it did connect and hold');
  });
});
