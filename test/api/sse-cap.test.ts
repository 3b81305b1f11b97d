/**
 * Issue 12 item 5: live feeds per principal are capped (SSE_MAX_PER_PRINCIPAL):
 * one more is a 429 in the v1 error shape saying why; other principals are not
 * affected; closing a feed frees its place.
 */
import assert from 'node:assert/strict';
import { get as httpGet, type ClientRequest, type IncomingMessage } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { startTestApp, TOKENS, type TestApp } from '../support/app.js';
import { rawListener } from '../support/users.js';
import { waitFor } from '../support/wait.js';

interface Feed {
  req: ClientRequest;
  res: IncomingMessage;
  body: () => Promise<string>;
}

function open(port: number, token: string): Promise<Feed> {
  return new Promise((resolve, reject) => {
    const req = httpGet(
      {
        host: '127.0.0.1',
        port,
        path: '/v1/events/stream',
        headers: { Authorization: `Bearer ${token}`, Accept: 'text/event-stream' },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('error', () => undefined);
        const ended = new Promise<string>((r) => res.on('end', () => r(text)));
        resolve({ req, res, body: () => ended });
      },
    );
    req.on('error', reject);
  });
}

describe('SSE: connections per principal are capped', () => {
  let t: TestApp;
  let port: number;
  let close: () => Promise<void>;
  const feeds: Feed[] = [];

  before(async () => {
    t = await startTestApp({ env: { SSE_MAX_PER_PRINCIPAL: '2' } });
    ({ port, close } = await rawListener(t));
  });
  after(async () => {
    for (const f of feeds) f.req.destroy();
    await close();
    await t.close();
  });

  test('the third feed of one principal is a 429 naming the limit; another principal still connects', async () => {
    feeds.push(await open(port, TOKENS.auditor), await open(port, TOKENS.auditor));
    assert.deepEqual(
      feeds.map((f) => f.res.statusCode),
      [200, 200],
    );
    const third = await open(port, TOKENS.auditor);
    assert.equal(third.res.statusCode, 429);
    const err = JSON.parse(await third.body()) as Record<string, unknown>;
    assert.equal(err.statusCode, 429);
    assert.match(String(err.message), /too many live feeds.*SSE_MAX_PER_PRINCIPAL=2/);
    assert.deepEqual(err.details, { open: 2, limit: 2 });
    const admin = await open(port, TOKENS.admin);
    feeds.push(admin);
    assert.equal(admin.res.statusCode, 200);
  });

  test('closing a feed frees its place', async () => {
    feeds.shift()!.req.destroy();
    const again = await waitFor(
      async () => {
        const f = await open(port, TOKENS.auditor);
        if (f.res.statusCode === 200) return f;
        f.req.destroy();
        return undefined;
      },
      { what: 'a feed to open once one was closed', timeoutMs: 10_000 },
    );
    feeds.push(again);
    assert.equal(again.res.statusCode, 200);
  });
});
