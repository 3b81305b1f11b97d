/**
 * The CLI reaches every route, as the role matrix covers every role: each `METHOD /template` of a
 * real app's /docs-json maps to the CLI command that reaches it, or to the reason it has none.
 * A served route missing from the table fails the run: add its row (and the command). Rows may
 * name routes other branches add; a row whose route is not served is listed, not run.
 *
 * "Reaches" is checked, not taken on trust: each command runs (the built bin, a child process)
 * against a recorder that answers 404 and keeps what it was asked; the route must be among the
 * requests. And the CLI stays quick to start: what main.js loads before parsing argv is
 * commander, node: built-ins and src/cli itself, nothing of the server.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { startTestApp, type TestApp } from '../support/app.js';
import { CLI, runCli } from '../support/cli.js';
import { tempDir } from '../support/env.js';
import { loadRoutes } from '../support/fuzz-routes.js';

/** Placeholders in the argv below: ids the recorder sees in the path. */
const ID = '11111111-1111-4111-8111-111111111111';
const ID2 = '22222222-2222-4222-8222-222222222222';
/** The one VM the recorder knows: `vm resize` reads its ETag before the PATCH. */
const KNOWN_VM = '33333333-3333-4333-8333-333333333333';
const FILE = '<file>';

/** `exit`: what the recorder's 404 makes the command exit with (default 3, not found). */
type Reach = { cli: string[]; exit?: number } | { none: string };

/** Keys are `METHOD /template` exactly as /docs-json lists them. */
const COVERAGE: Record<string, Reach> = {
  // A 404 from /health is no missing resource: the server is not one (exit 2, as any other answer).
  'GET /health': { cli: ['health'], exit: 2 },
  'GET /metrics': { none: 'Prometheus text for a scraper (curl it); not a human report' },
  'GET /v1/hosts': { cli: ['host', 'ls'] },
  'POST /v1/hosts': {
    cli: ['host', 'register', 'h', '--driver', 'simulated', '--uri', 'sim://a', '--vcpus', '1', '--memory', '64'],
  },
  'GET /v1/hosts/{id}': { cli: ['host', 'show', ID] },
  'PATCH /v1/hosts/{id}': { cli: ['host', 'patch', ID, '--label', 'a=b'] },
  'DELETE /v1/hosts/{id}': { cli: ['host', 'rm', ID] },
  'GET /v1/hosts/{id}/domains': { cli: ['host', 'domains', ID] },
  'POST /v1/hosts/{id}/drain': { cli: ['host', 'drain', ID] },
  'POST /v1/hosts/{id}/evacuate': { cli: ['host', 'evacuate', ID] },
  'POST /v1/hosts/{id}/fence': { cli: ['host', 'fence', ID] },
  'POST /v1/hosts/{id}/restore': { cli: ['host', 'restore', ID] },
  'GET /v1/fleet': { cli: ['fleet'] },
  'GET /v1/vms': { cli: ['vm', 'ls'] },
  'POST /v1/vms': { cli: ['vm', 'create', 'v', '--vcpus', '1', '--memory', '64'] },
  'GET /v1/vms/{id}': { cli: ['vm', 'state', ID] },
  // The recorder answers this VM's GET (the ETag read), so the PATCH follows.
  'PATCH /v1/vms/{id}': { cli: ['vm', 'resize', KNOWN_VM, '--vcpus', '2'] },
  'DELETE /v1/vms/{id}': { cli: ['vm', 'rm', ID] },
  'POST /v1/vms/{id}/start': { cli: ['vm', 'start', ID] },
  'POST /v1/vms/{id}/stop': { cli: ['vm', 'stop', ID] },
  'POST /v1/vms/{id}/reboot': { cli: ['vm', 'reboot', ID] },
  'POST /v1/vms/{id}/pause': { cli: ['vm', 'pause', ID] },
  'POST /v1/vms/{id}/resume': { cli: ['vm', 'resume', ID] },
  'POST /v1/vms/{id}/migrations': { cli: ['vm', 'migrate', ID] },
  'GET /v1/vms/{id}/why': { cli: ['vm', 'why', ID] },
  'GET /v1/vms/{id}/diff': { cli: ['vm', 'diff', ID] },
  'GET /v1/vms/{id}/events': { cli: ['vm', 'history', ID] },
  'GET /v1/vms/{id}/console': { cli: ['vm', 'console', ID] },
  'GET /v1/vms/{id}/console/log': { cli: ['vm', 'console-log', ID] },
  'POST /v1/vms/{id}/console/ticket': {
    none: 'for browsers, which cannot set headers on a WebSocket; `vm console` sends its bearer token',
  },
  'GET /v1/vms/{id}/snapshots': { cli: ['snapshot', 'ls', ID] },
  'POST /v1/vms/{id}/snapshots': { cli: ['snapshot', 'create', ID, 's1'] },
  'POST /v1/vms/{id}/snapshots/{name}/revert': { cli: ['snapshot', 'revert', ID, 's1'] },
  'DELETE /v1/vms/{id}/snapshots/{name}': { cli: ['snapshot', 'rm', ID, 's1'] },
  'POST /v1/vms/{id}/volumes': { cli: ['vm', 'attach', ID, ID2] },
  'DELETE /v1/vms/{id}/volumes/{volumeId}': { cli: ['vm', 'detach', ID, ID2] },
  'GET /v1/volumes': { cli: ['volume', 'ls'] },
  'POST /v1/volumes': { cli: ['volume', 'create', 'data', '--size', '1'] },
  'GET /v1/volumes/{id}': { cli: ['volume', 'show', ID] },
  'PATCH /v1/volumes/{id}': { cli: ['volume', 'grow', ID, '--size', '2'] },
  'DELETE /v1/volumes/{id}': { cli: ['volume', 'rm', ID] },
  'GET /v1/placement-groups': { cli: ['placement-group', 'ls'] },
  'POST /v1/placement-groups': { cli: ['placement-group', 'create', 'g', '--policy', 'affinity'] },
  'GET /v1/placement-groups/{id}': { cli: ['placement-group', 'show', ID] },
  'DELETE /v1/placement-groups/{id}': { cli: ['placement-group', 'rm', ID] },
  'GET /v1/networks': { cli: ['network', 'ls'] },
  'POST /v1/networks': { cli: ['network', 'create', 'lan', '10.20.0.0/24'] },
  'GET /v1/networks/{id}': { cli: ['network', 'show', ID] },
  'DELETE /v1/networks/{id}': { cli: ['network', 'rm', ID] },
  'GET /v1/operations': { cli: ['op', 'ls'] },
  'GET /v1/operations/{id}': { cli: ['op', 'show', ID] },
  'DELETE /v1/operations/{id}': { cli: ['op', 'cancel', ID] },
  'GET /v1/queues': { cli: ['queue', 'ls'] },
  'GET /v1/queues/{host}/failed': { cli: ['queue', 'show', ID] },
  'POST /v1/queues/{host}/failed/{job}/retry': { cli: ['queue', 'retry', ID, 'job-1'] },
  'DELETE /v1/queues/{host}/failed/{job}': { cli: ['queue', 'discard', ID, 'job-1'] },
  'GET /v1/queues/results': { cli: ['queue', 'results'] },
  'GET /v1/queues/results/dead': { cli: ['queue', 'dead-results'] },
  'POST /v1/queues/results/dead/{id}/retry': { cli: ['queue', 'retry-result', '1-0'] },
  'DELETE /v1/queues/results/dead/{id}': { cli: ['queue', 'discard-result', '1-0'] },
  'GET /v1/projects': { cli: ['project', 'ls'] },
  'POST /v1/projects': { cli: ['project', 'create', 'p1'] },
  'GET /v1/projects/{name}': { cli: ['project', 'show', 'p1'] },
  'PATCH /v1/projects/{name}': { cli: ['project', 'set-quota', 'p1', '--vms', '3'] },
  'GET /v1/images': { cli: ['image', 'ls'] },
  'PUT /v1/images/{name}': { cli: ['image', 'import', 'img1', FILE] },
  'GET /v1/images/{name}': { cli: ['image', 'show', 'img1'] },
  'DELETE /v1/images/{name}': { cli: ['image', 'rm', 'img1'] },
  'GET /v1/projections': { cli: ['projection', 'ls'] },
  'POST /v1/projections/{name}/rebuild': { cli: ['projection', 'rebuild', 'vms'] },
  'GET /v1/events': { cli: ['audit', 'log'] },
  'GET /v1/events/stream': { cli: ['audit', 'log', '--follow'] },
  'GET /v1/audit/verify': { cli: ['audit', 'verify'] },
  'GET /v1/audit/export': { cli: ['audit', 'export'] },
  'GET /v1/audit/proof': { cli: ['audit', 'proof', '--position', '1'] },
  'GET /v1/audit/seals': { cli: ['audit', 'seals'] },
  'GET /v1/audit/seals/key': { cli: ['audit', 'seals', '--key'] },
  'GET /v1/audit/replay-check': { cli: ['audit', 'replay-check'] },
};

/** `/v1/vms/{id}/volumes/{volumeId}` → a regex for concrete paths (the query string ignored). */
function matcher(template: string): RegExp {
  const body = template
    .split(/\{[^}]+\}/)
    .map((s) => s.replace(/[.*+?^$()|[\]\\]/g, '\\$&'))
    .join('[^/?]+');
  return new RegExp(`^${body}(\\?.*)?$`);
}

/** Answers every request 404 and keeps `METHOD path`; a VM's GET gets a revision (`vm resize` reads it first). */
function recorder(): { server: Server; seen: string[] } {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    req.resume();
    req.on('end', () => {
      if (req.method === 'GET' && req.url === `/v1/vms/${KNOWN_VM}`) {
        res.writeHead(200, { 'Content-Type': 'application/json', ETag: '"1"' }).end('{"revision":1}');
        return;
      }
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ statusCode: 404, error: 'Not Found', message: 'recorder' }));
    });
  });
  // The console's WebSocket: kept, then refused as a plain 404.
  server.on('upgrade', (req, socket) => {
    seen.push(`${req.method} ${req.url}`);
    socket.end('HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}');
  });
  return { server, seen };
}

/** The files main.js loads before it parses argv: static imports, followed; dynamic ones are lazy. */
function staticGraph(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/^(?:import|export)\s(?:[^;'"]*?\sfrom\s)?\s*['"]([^'"]+)['"]/gm)) {
      const spec = m[1]!;
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec));
      else packages.add(spec);
    }
  };
  visit(entry);
  return { files, packages };
}

describe('e2e: the CLI reaches every route of /docs-json', () => {
  let t: TestApp;
  let port: number;
  const tmp = tempDir('vl-cli-coverage-');
  const rec = recorder();
  let recUrl: string;

  before(async () => {
    t = await startTestApp();
    await t.app.listen(0, '127.0.0.1');
    port = (t.app.getHttpServer().address() as AddressInfo).port;
    await new Promise<void>((r) => rec.server.listen(0, '127.0.0.1', () => r()));
    recUrl = `http://127.0.0.1:${(rec.server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await t?.close();
    await new Promise<void>((r) => rec.server.close(() => r()));
    tmp.cleanup();
  });

  test('every route of /docs-json has a row: a command or the reason it has none', async (s) => {
    const served = (await loadRoutes(port)).map((r) => `${r.method} ${r.template}`).sort();
    const missing = served.filter((k) => !(k in COVERAGE));
    assert.deepEqual(missing, [], 'add these routes to COVERAGE in test/api/cli-coverage.test.ts (and a command)');
    const notServed = Object.keys(COVERAGE).filter((k) => !served.includes(k));
    if (notServed.length) s.diagnostic(`rows for routes this build does not serve: ${notServed.join(', ')}`);
    for (const [key, row] of Object.entries(COVERAGE))
      if ('none' in row) assert.ok(row.none.length > 10, `${key}: say why it has no command`);
  });

  test('each command reaches its route (run against a recorder)', async (s) => {
    const file = join(tmp.dir, 'disk.raw');
    writeFileSync(file, Buffer.alloc(512));
    const env = { env: { VIRTLEDGER_URL: recUrl, VIRTLEDGER_TOKEN: 'recorder-token' } };
    for (const [key, row] of Object.entries(COVERAGE)) {
      if (!('cli' in row)) continue;
      const argv = row.cli.map((a) => (a === FILE ? file : a));
      await s.test(`${key} ← virtledger ${row.cli.join(' ')}`, async () => {
        const [method, template] = key.split(' ') as [string, string];
        const from = rec.seen.length;
        const res = await runCli(argv, env);
        const asked = rec.seen.slice(from);
        const re = matcher(template);
        assert.ok(
          asked.some((r) => r.startsWith(`${method} `) && re.test(r.slice(method.length + 1))),
          `virtledger ${argv.join(' ')} asked ${JSON.stringify(asked)} (exit ${res.code}: ${res.stderr.trim()})`,
        );
        // The recorder's 404 is what the user sees: the not-found exit code, one line, no stack.
        assert.equal(res.code, row.exit ?? 3, `${argv.join(' ')}: ${res.stderr}`);
        assert.doesNotMatch(res.stderr, /\n\s+at /, 'a stack trace');
      });
    }
  });

  test('what the CLI loads at start: commander, node: built-ins and src/cli (no server code)', () => {
    const root = dirname(CLI);
    const { files, packages } = staticGraph(CLI);
    // A pure helper the server shares on purpose (src/http/point-in-time: the same parsing rules)
    // is fine as long as it is a leaf: it imports nothing, so nothing of Nest, Redis or the store.
    const outside = [...files].filter(
      (f) => dirname(f) !== root && staticGraph(f).files.size + staticGraph(f).packages.size > 1,
    );
    assert.deepEqual(outside, [], 'the CLI statically imports server code (import it lazily)');
    const foreign = [...packages].filter((p) => p !== 'commander' && !p.startsWith('node:'));
    assert.deepEqual(foreign, [], 'the CLI statically imports packages besides commander');
    assert.ok(files.has(join(root, 'volume-commands.js')) && files.has(join(root, 'placement-group-commands.js')));
  });
});
