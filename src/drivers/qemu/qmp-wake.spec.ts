import { mkdtempSync, rmSync } from 'node:fs';
import { FakeQmp, qmpReply, type QmpRequest } from '../../../test/support/fake-qmp.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { QmpClient } from './qmp.client.js';
import type { QmpMigrationInfo } from './qmp.types.js';
import { Deadline } from './migration-deadline.js';
import { waitForMigration } from './migration-wait.js';
import { QmpWake } from './qmp-wake.js';

describe('QmpWake and the wait for a migration', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vl-wake-'));
  const servers: FakeQmp[] = [];
  const clients: QmpClient[] = [];
  after(() => {
    for (const c of clients) c.close();
    for (const s of servers) s.close();
    rmSync(dir, { recursive: true, force: true });
  });
  /** A fake QEMU that answers every request with `answer(req)`, and a client negotiated with it. */
  const connect = async (answer: (req: QmpRequest) => unknown) => {
    const asked: string[] = [];
    const f = await new FakeQmp(dir, (req, s) => {
      asked.push(req.execute);
      s.write(qmpReply(req, `"return": ${JSON.stringify(answer(req))}`));
    }).listen();
    servers.push(f);
    const c = await QmpClient.connect(f.path, { connectTimeoutMs: 2_000 });
    clients.push(c);
    await c.execute('query-status'); // negotiated: events now reach the client's listeners
    return { asked, event: (name: string, data?: object) => f.event(name, data), c };
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
