import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { QmpClient } from './qmp.client.js';
import type { QmpMigrationInfo } from './qmp.types.js';
import { Deadline } from './migration-deadline.js';
import { waitForMigration } from './migration-wait.js';
import { QmpWake } from './qmp-wake.js';

const GREETING =
  '{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": ""}, "capabilities": []}}';

interface Request {
  execute: string;
  id?: string;
}

/** A QMP server that answers every request with `answer(req)` and lets the test send events. */
async function fakeQmp(
  dir: string,
  answer: (req: Request) => unknown,
): Promise<{ path: string; asked: string[]; event: (name: string, data?: object) => void; server: Server }> {
  const path = join(dir, `wake-${Math.random().toString(16).slice(2)}.sock`);
  const asked: string[] = [];
  let peer: Socket | undefined;
  const server = createServer((s) => {
    peer = s;
    s.setEncoding('utf8');
    s.on('error', () => undefined);
    s.write(`${GREETING}\r\n`);
    let buffer = '';
    s.on('data', (chunk: string) => {
      buffer += chunk;
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const req = JSON.parse(buffer.slice(0, nl)) as Request;
        buffer = buffer.slice(nl + 1);
        asked.push(req.execute);
        s.write(`${JSON.stringify({ return: answer(req), id: req.id })}\r\n`);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  const event = (name: string, data?: object) =>
    peer?.write(
      `${JSON.stringify({ event: name, ...(data ? { data } : {}), timestamp: { seconds: 1, microseconds: 0 } })}\r\n`,
    );
  return { path, asked, event, server };
}

describe('QmpWake and the wait for a migration', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vl-wake-'));
  const servers: Server[] = [];
  const clients: QmpClient[] = [];
  after(() => {
    for (const c of clients) c.close();
    for (const s of servers) s.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const connect = async (answer: (req: Request) => unknown) => {
    const f = await fakeQmp(dir, answer);
    servers.push(f.server);
    const c = await QmpClient.connect(f.path, { connectTimeoutMs: 2_000 });
    clients.push(c);
    await c.execute('query-status'); // negotiated: events now reach the client's listeners
    return { ...f, c };
  };

  test('wakes on a named event (not on others), keeps one that came between waits, and wakes on close', async () => {
    const { c, event } = await connect(() => ({}));
    const wake = new QmpWake(c, ['RESUME']);
    const woken = wake.next(60_000);
    event('STOP');
    event('RESUME');
    await woken;
    assert.equal(wake.last?.event, 'RESUME');
    event('RESUME'); // lands while nobody waits: the next wait returns at once
    await c.execute('query-status'); // the event line is read before this answer
    await wake.next(60_000);
    const pending = wake.next(60_000);
    wake.close();
    await pending;
  });

  test('a MIGRATION event saying completed ends the wait without asking query-migrate again', async () => {
    // QEMU's answers still say active: only the event can end this wait within the deadline.
    const { c, asked, event } = await connect((req) =>
      req.execute === 'query-migrate'
        ? ({ status: 'active', ram: { transferred: 1, remaining: 9, total: 10 } } as QmpMigrationInfo)
        : {},
    );
    const reports: (number | undefined)[] = [];
    const waiting = waitForMigration(
      c,
      { onProgress: (p) => reports.push(p.percent) },
      new Deadline(30_000, undefined),
    );
    while (!asked.includes('query-migrate')) await c.execute('query-status');
    event('MIGRATION', { status: 'completed' });
    await waiting;
    assert.equal(asked.filter((a) => a === 'query-migrate').length, 1);
    assert.equal(reports.at(-1), 100);
  });
});
