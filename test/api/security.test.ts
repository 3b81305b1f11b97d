/**
 * Auth hardening and input patterns: constant-time token comparison, the body
 * size limit (413), helmet's headers, tokens never in the logs (the built server
 * at LOG_LEVEL=trace), strict patterns for every name or path that reaches a
 * shell, QMP or a file, and child processes spawned without a shell.
 */
import { after, before, describe, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TokenVerifier } from '../../src/http/auth/token-verifier.js';
import { redactUrl } from '../../src/http/redact-url.js';
import { logLength, settledLogLength, startTestApp, TOKENS, type TestApp } from '../support/app.js';
import { sendRaw } from '../support/fuzz-http.js';
import { startServerProcess, type ServerProcess } from '../support/fuzz-server.js';
import { waitFor } from '../support/wait.js';
import { assertError, createVmOp, registerSimHost } from '../support/e2e.js';

const SRC = join(dirname(fileURLToPath(import.meta.url)), '../../../src');

describe('tokens are compared in constant time', () => {
  const entries = [
    { role: 'admin' as const, token: 'a'.repeat(40) },
    { role: 'operator' as const, token: 'operator-token-0123456789abcdef' },
    { role: 'viewer' as const, token: 'v'.repeat(16) },
  ];

  test('every entry is compared, with timingSafeEqual over equal-length digests, whatever the token', () => {
    const calls: Array<[number, number]> = [];
    const real = crypto.timingSafeEqual;
    mock.method(crypto, 'timingSafeEqual', (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
      calls.push([a.byteLength, b.byteLength]);
      return real(a, b);
    });
    syncBuiltinESMExports();
    try {
      const v = new TokenVerifier(entries);
      for (const [token, role] of [
        [entries[0]!.token, 'admin'],
        [entries[2]!.token, 'viewer'],
        ['short', undefined],
        ['x'.repeat(10000), undefined],
        [entries[1]!.token.slice(0, -1), undefined],
        [`${entries[1]!.token}x`, undefined],
        ['', undefined],
      ] as const) {
        calls.length = 0;
        assert.equal(v.verify(token)?.role, role, `token of length ${token.length}`);
        // No early exit: the first entry matching still compares the others.
        assert.deepEqual(calls, [
          [32, 32],
          [32, 32],
          [32, 32],
        ]);
      }
    } finally {
      mock.restoreAll();
      syncBuiltinESMExports();
    }
  });

  test('the principal id is a digest prefix, never the token', () => {
    const p = new TokenVerifier(entries).verify(entries[1]!.token)!;
    assert.match(p.id, /^operator#[0-9a-f]{8}$/);
    assert.ok(!p.id.includes(entries[1]!.token));
  });
});

describe('e2e: body limit, security headers, strict patterns', () => {
  let t: TestApp;
  let vmId: string;
  let hostId: string;

  before(async () => {
    t = await startTestApp({ env: { BODY_LIMIT: '16kb' } });
    hostId = (await registerSimHost(t, 'hv-sec')).id as string;
    vmId = (await createVmOp(t, { name: 'sec-vm', hostId })).accepted.vmId;
  });
  after(async () => {
    await t?.close();
  });

  test('a body over BODY_LIMIT is 413 with the v1 error body, and appends nothing', async () => {
    const before = await settledLogLength(t);
    const res = await t.as('operator').post('/v1/vms', {
      name: 'big',
      vcpus: 1,
      memoryMiB: 64,
      diskGiB: 1,
      reason: 'r'.repeat(17 * 1024),
    });
    assertError(res, 413);
    assert.match(res.body.message as string, /larger than 16384 bytes/);
    assert.equal(await logLength(t), before);
    // Just under the limit is parsed (and then refused by validation for the long reason, not by size).
    const under = await t
      .as('operator')
      .post('/v1/vms', { name: 'b', vcpus: 1, memoryMiB: 64, diskGiB: 1, reason: 'r'.repeat(600) });
    assertError(under, 400, 'reason');
  });

  test('a number out of range (1e999 parses to Infinity) is 400 naming the field, Idempotency-Key or not', async () => {
    const before = await settledLogLength(t);
    for (const key of [undefined, 'fuzz-found-500']) {
      let req = t
        .http()
        .post(`/v1/vms/${vmId}/stop`)
        .set('Authorization', `Bearer ${TOKENS.operator}`)
        .set('Content-Type', 'application/json');
      if (key) req = req.set('Idempotency-Key', key);
      const res = await req.send('{"force":true,"timeoutMs":-1e999}');
      assertError(res, 400, 'timeoutMs');
      assert.match(res.body.message as string, /body is not valid JSON: "timeoutMs" is a number out of range/);
    }
    assert.equal(await logLength(t), before);
  });

  test('malformed JSON is 400 saying so', async () => {
    const res = await t
      .http()
      .post('/v1/vms')
      .set('Authorization', `Bearer ${TOKENS.operator}`)
      .set('Content-Type', 'application/json')
      .send('{"name":');
    assertError(res, 400);
    assert.match(res.body.message as string, /^body is not valid JSON/);
  });

  for (const [what, send] of [
    ['a 200', () => t.as('viewer').get('/v1/vms')],
    ['a 401', () => t.http().get('/v1/vms')],
    ['a 404', () => t.as('viewer').get('/v1/nothing-here')],
    ['/health', () => t.http().get('/health')],
  ] as const) {
    test(`helmet's headers on ${what}`, async () => {
      const res = await send();
      const h = res.headers;
      assert.equal(h['x-content-type-options'], 'nosniff');
      assert.equal(h['x-frame-options'], 'SAMEORIGIN');
      // Plain HTTP (TLS ends in front, if anywhere): no HSTS, no upgrade-insecure-requests,
      // so /docs loads from another machine.
      assert.equal(h['strict-transport-security'], undefined);
      assert.match(h['content-security-policy'] ?? '', /default-src 'self'/);
      assert.doesNotMatch(h['content-security-policy'] ?? '', /upgrade-insecure-requests/);
      assert.equal(h['cross-origin-resource-policy'], 'same-origin');
      assert.equal(h['referrer-policy'], 'no-referrer');
      assert.equal(h['x-powered-by'], undefined);
    });
  }

  describe('names and paths that reach a shell, QMP or a file match a strict pattern', () => {
    const hostile = [
      '../../etc/passwd',
      '/etc/passwd',
      'a/b',
      '..',
      '.hidden',
      '-rf',
      'a b',
      'a,file=/x',
      '$(id)',
      '`id`',
      'a;b',
      'nul\u0000',
      'é',
      'a'.repeat(64),
      '',
    ];
    const vm = { vcpus: 1, memoryMiB: 64, diskGiB: 1 };
    const fields: Array<{ field: string; send: (v: string) => ReturnType<ReturnType<TestApp['as']>['post']> }> = [
      { field: 'name', send: (v) => t.as('operator').post('/v1/vms', { ...vm, name: v }) },
      { field: 'hostId', send: (v) => t.as('operator').post('/v1/vms', { ...vm, name: 'ok', hostId: v }) },
      { field: 'image', send: (v) => t.as('operator').post('/v1/vms', { ...vm, name: 'ok', image: v }) },
      { field: 'name', send: (v) => t.as('operator').post(`/v1/vms/${vmId}/snapshots`, { name: v }) },
      { field: 'targetHostId', send: (v) => t.as('operator').post(`/v1/vms/${vmId}/migrations`, { targetHostId: v }) },
      {
        field: 'id',
        send: (v) =>
          t.as('admin').post('/v1/hosts', {
            id: v,
            name: 'h',
            driver: 'simulated',
            uri: 'simulated://',
            capacity: { vcpus: 1, memoryMiB: 64 },
          }),
      },
      {
        field: 'name',
        send: (v) =>
          t.as('admin').post('/v1/hosts', {
            name: v,
            driver: 'simulated',
            uri: 'simulated://',
            capacity: { vcpus: 1, memoryMiB: 64 },
          }),
      },
    ];
    for (const f of fields) {
      test(`${f.field} of ${f.send.toString().match(/post\(([^,]+)/)?.[1] ?? ''}: every hostile value is 400 naming it`, async () => {
        const before = await settledLogLength(t);
        // Image paths may be absolute and have 128-character segments by design (a base image),
        // but never "..", spaces, separators or shell characters.
        const values =
          f.field === 'image' ? hostile.filter((v) => !['/etc/passwd', 'a/b', 'a'.repeat(64)].includes(v)) : hostile;
        for (const v of values) assertError(await f.send(v), 400, f.field);
        assert.equal(await logLength(t), before);
      });
    }

    test('image: "kernel:" needs an absolute dir, and ".." segments are refused anywhere', async () => {
      for (const v of ['kernel:relative', 'kernel:/a/../b', '/a/../../etc', 'kernel:', '/']) {
        assertError(await t.as('operator').post('/v1/vms', { ...vm, name: 'ok', image: v }), 400, 'image');
      }
    });

    test('snapshot names in the path (revert, delete) are checked the same way', async () => {
      const before = await settledLogLength(t);
      for (const v of ['..', '.x', 'a b', '$(id)', '-rf', 'a'.repeat(64)]) {
        const enc = encodeURIComponent(v);
        assertError(await t.as('operator').post(`/v1/vms/${vmId}/snapshots/${enc}/revert`, {}), 400, 'name');
        assertError(await t.as('operator').delete(`/v1/vms/${vmId}/snapshots/${enc}`), 400, 'name');
      }
      assert.equal(await logLength(t), before);
    });
  });
});

describe('the built server never logs a token', () => {
  let srv: ServerProcess;
  const admin = 'admin-secret-token-7f3a9c1e5b';
  const wrong = 'wrong-secret-token-2d8e4f6a0c';

  before(async () => {
    srv = await startServerProcess({ AUTH_TOKENS: `admin:${admin}`, LOG_LEVEL: 'trace' });
  });
  after(async () => {
    await srv?.close();
  });

  test('valid, invalid and query-string tokens are absent from trace-level output; the requests are logged', async () => {
    const h = (token: string) => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' });
    // `probe` marks each request in the log; as an unknown query parameter it is a 400 once authenticated.
    assert.equal((await fetch(`${srv.base}/v1/vms?probe=p-valid`, { headers: h(admin) })).status, 400);
    assert.equal((await fetch(`${srv.base}/v1/vms?probe=p-wrong`, { headers: h(wrong) })).status, 401);
    const bad = await fetch(`${srv.base}/v1/vms?probe=p-post`, {
      method: 'POST',
      headers: h(wrong.toUpperCase()),
      body: JSON.stringify({ name: 'x' }),
    });
    assert.equal(bad.status, 401);
    const inQuery = await fetch(`${srv.base}/v1/vms?access_token=${admin}&token=${wrong}&probe=p-query`, {
      headers: h(admin),
    });
    assert.equal(inQuery.status, 400);
    // The server logs each request once it is answered: wait for all four lines, not for a time.
    const probes = ['p-valid', 'p-wrong', 'p-post', 'p-query'];
    const out = await waitFor(() => probes.every((p) => srv.output().includes(p)) && srv.output(), {
      what: `the four requests in the server's log (${probes.join(', ')})`,
    }).catch(() => srv.output());
    for (const probe of probes) assert.ok(out.includes(probe), `${probe} not logged`);
    for (const secret of [admin, wrong, wrong.toUpperCase()]) assert.ok(!out.includes(secret), `a token is in the log`);
  });

  test('headers over the parser limit are 431 with the v1 error body, not a bare status line', async () => {
    const res = await fetch(`${srv.base}/v1/vms`, { headers: { 'x-big': 'a'.repeat(20000) } });
    assert.equal(res.status, 431);
    assert.deepEqual(await res.json(), {
      statusCode: 431,
      error: 'Request Header Fields Too Large',
      message: 'request headers too large',
    });
  });

  test('a HEAD over the parser limit is a 431 without a body (chaos fuzz, seed 1340874885)', async () => {
    const port = Number(new URL(srv.base).port);
    // Node's client reads no body after a HEAD: one sent anyway failed it with "Data after `Connection: close`".
    const res = await sendRaw(port, { method: 'HEAD', path: `/v1/vms?q=${'a'.repeat(20000)}`, headers: {} });
    assert.equal(res.status, 431);
    assert.equal(res.headers.connection, 'close');
    assert.equal(res.text, '');
    const get = await sendRaw(port, { method: 'GET', path: `/v1/vms?q=${'a'.repeat(20000)}`, headers: {} });
    assert.equal(get.status, 431);
    assert.equal(JSON.parse(get.text).message, 'request headers too large', 'a GET still gets the v1 body');
  });

  test('redactUrl hides credentials in query strings only', () => {
    assert.equal(redactUrl('/v1/vms?token=abc&limit=2'), '/v1/vms?token=[redacted]&limit=2');
    assert.equal(redactUrl('/v1/x?a=1&ACCESS_TOKEN=s#f'), '/v1/x?a=1&ACCESS_TOKEN=[redacted]#f');
    assert.equal(redactUrl('/v1/tokens/abc'), '/v1/tokens/abc');
  });
});

describe('child processes are spawned without a shell', () => {
  const files = (dir: string): string[] =>
    readdirSync(dir).flatMap((n) => {
      const p = join(dir, n);
      return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
    });

  test('src imports only spawn/execFile/fork from child_process, never exec/execSync, and never passes shell:', () => {
    // fork runs node on one of our modules (the spawn helper), with an IPC channel and no shell.
    const allowed = new Set([
      'spawn',
      'spawnSync',
      'execFile',
      'execFileSync',
      'fork',
      'ChildProcess',
      'type ChildProcess',
    ]);
    const users: string[] = [];
    for (const f of files(SRC)) {
      const text = readFileSync(f, 'utf8');
      const imp = /import\s*\{([^}]*)\}\s*from\s*'(?:node:)?child_process'/.exec(text);
      if (!imp && !/child_process/.test(text)) continue;
      users.push(f.slice(SRC.length + 1));
      assert.ok(imp, `${f} uses child_process other than through named imports`);
      for (const name of imp[1]!
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean))
        assert.ok(allowed.has(name), `${f} imports ${name} from child_process`);
      assert.doesNotMatch(text, /shell\s*:/, `${f} passes a shell option`);
    }
    // The scan looked at the files that do spawn (QEMU, qemu-img, redis-server).
    assert.ok(users.length >= 2, `only ${users.join(', ')}`);
  });
});
