/**
 * Admission control (MAX_REQUESTS_IN_FLIGHT): past the limit of API requests being
 * worked on, a request is answered 429 with Retry-After and the v1 error body at
 * once, and a refused command records nothing; health, metrics and long-polls are
 * not counted; a request that ends, or whose client goes away, frees its place; an idle
 * connection stays open 65 s (longer than a balancer keeps one).
 * Requests are held in flight by uploading an image in two parts (its handler streams the
 * body); a JSON body still arriving is not counted (slow clients cannot shut others out).
 */
import 'reflect-metadata';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { logLength, startTestApp, TOKENS, type TestApp } from '../support/app.js';
import { assertError, registerSimHost } from '../support/e2e.js';
import { waitFor } from '../support/wait.js';
import { tempDir } from '../support/env.js';
import { qcow2 } from '../support/image-files.js';

const LIMIT = 2;

/** A request held in flight until `finish()`; `answer` is its status. */
interface Held {
  req: ClientRequest;
  finish(): void;
  answer: Promise<number>;
}
describe('e2e: admission control (MAX_REQUESTS_IN_FLIGHT)', () => {
  let t: TestApp;
  let port: number;
  const work = tempDir('vl-admission-');
  let disk: Buffer;

  before(async () => {
    t = await startTestApp({ env: { MAX_REQUESTS_IN_FLIGHT: String(LIMIT) } });
    await t.app.listen(0, '127.0.0.1');
    port = (t.app.getHttpServer().address() as AddressInfo).port;
    await registerSimHost(t, 'hv-1');
    disk = qcow2(work.dir);
  });
  after(async () => {
    await t?.close();
    work.cleanup();
  });

  const send = (method: string, path: string, headers: Record<string, string | number>): Held['req'] =>
    httpRequest({ host: '127.0.0.1', port, method, path, headers });
  const answered = (req: ClientRequest) =>
    new Promise<number>((resolve, reject) => {
      req.on('response', (res: IncomingMessage) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
    });

  /**
   * An image upload whose bytes are half sent: its handler streams the body, so it is in flight
   * (admitted, being worked on) until `finish()` sends the rest; answered 201.
   */
  const hold = (name: string): Held => {
    const req = send('PUT', `/v1/images/${name}`, {
      authorization: `Bearer ${TOKENS.admin}`,
      'content-type': 'application/octet-stream',
      'content-length': disk.length,
    });
    const answer = answered(req);
    const half = Math.floor(disk.length / 2);
    req.write(disk.subarray(0, half));
    return { req, answer, finish: () => req.end(disk.subarray(half)) };
  };

  /** A create whose JSON body is half sent: the client's time, not the server's work. */
  const trickle = (name: string): Held => {
    const body = JSON.stringify({ name, vcpus: 1, memoryMiB: 64, diskGiB: 1, start: false });
    const req = send('POST', '/v1/vms', {
      authorization: `Bearer ${TOKENS.operator}`,
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
    });
    const answer = answered(req);
    req.write(body.slice(0, 10));
    return { req, answer, finish: () => req.end(body.slice(10)) };
  };

  /** The server has every held request in flight once a plain read is refused. */
  const untilRefused = () =>
    waitFor(
      async () => {
        const res = await t.as('viewer').get('/v1/vms');
        return res.status === 429 ? res : undefined;
      },
      { what: 'a read to be refused while the held requests are in flight' },
    );

  test('past the limit a request is 429 with Retry-After at once, and a refused command records nothing', async () => {
    const held = [hold('held-0'), hold('held-1')];
    const refused = await untilRefused();
    assertError(refused, 429);
    assert.equal(refused.headers['retry-after'], '1');
    assert.match(refused.body.message as string, /busy: 2 requests are in flight \(MAX_REQUESTS_IN_FLIGHT\)/);

    const logBefore = await logLength(t);
    const create = await t.as('operator').post('/v1/vms', { name: 'refused', vcpus: 1, memoryMiB: 64, diskGiB: 1 });
    assertError(create, 429);
    assert.equal(await logLength(t), logBefore, 'a refused create appends nothing');

    // Not counted: monitors' probes and a long-poll, which waits rather than works.
    assert.equal((await t.http().get('/health')).status, 200);
    const metrics = await t.http().get('/metrics');
    assert.equal(metrics.status, 200);
    assert.match(
      metrics.text,
      /virtledger_http_requests_total\{method="POST",route="\(refused: busy\)",status="429"\} 1\b/,
      'an operator sees the refusals in /metrics',
    );
    const poll = await t.as('viewer').get('/v1/operations/00000000-0000-4000-8000-000000000000?waitMs=1');
    assert.equal(poll.status, 404, 'a long-poll is not refused');

    for (const h of held) h.finish();
    assert.deepEqual(await Promise.all(held.map((h) => h.answer)), [201, 201], 'the held uploads are answered');
    // Their places are free as soon as their answers are out.
    assert.equal((await t.as('viewer').get('/v1/vms')).status, 200);
    const names = ((await t.as('viewer').get('/v1/vms?limit=100')).body.items as Array<{ name: string }>).map(
      (v) => v.name,
    );
    assert.ok(!names.includes('refused'), 'the refused create made no VM');
  });

  test("an idle connection is kept open past a balancer's idle timeout, so a reused socket is not reset", async () => {
    // Node's 5 s default closed idle sockets under clients that reuse them for up to 4 s: under
    // load, a request sent just before the close was answered by a reset (ECONNRESET).
    const req = send('GET', '/health', {});
    const headers = await new Promise<IncomingMessage['headers']>((resolve, reject) => {
      req.on('response', (res: IncomingMessage) => {
        res.resume();
        res.on('end', () => resolve(res.headers));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(headers.connection, 'keep-alive');
    assert.equal(headers['keep-alive'], 'timeout=65', 'the client is told how long an idle connection stays open');
  });

  test('a client that goes away before its answer frees its place', async () => {
    const held = [hold('gone-0'), hold('gone-1')];
    await untilRefused();
    held[0]!.req.destroy();
    await held[0]!.answer.catch(() => undefined);
    await waitFor(async () => (await t.as('viewer').get('/v1/vms')).status === 200, {
      what: 'a read to be admitted once a held client went away',
    });
    held[1]!.finish();
    assert.equal(await held[1]!.answer, 201);
  });

  test('bodies still arriving take no place: more slow clients than the limit do not shut others out', async () => {
    // The server has seen each slow request's headers (its body is still to come) before the read.
    const server = t.app.getHttpServer();
    let seen = 0;
    const onRequest = (req: IncomingMessage) => void (req.url === '/v1/vms' && req.method === 'POST' && seen++);
    server.on('request', onRequest);
    const slow = Array.from({ length: LIMIT + 2 }, (_, i) => trickle(`slow-${i}`));
    await waitFor(() => seen >= slow.length, { what: 'the server to have the slow requests' });
    server.off('request', onRequest);
    try {
      const read = await t.as('viewer').get('/v1/vms');
      assert.equal(read.status, 200, 'a read is admitted while slow clients trickle their bodies');
      // Once in, each is work like any other: finished one after another, each is accepted.
      for (const h of slow) {
        h.finish();
        assert.equal(await h.answer, 202, 'a slow create is answered once its body is in');
      }
    } finally {
      // A failed check leaves bodies unsent: end those connections, or closing the app waits on them.
      for (const h of slow) h.req.destroy();
    }
  });
});
