/**
 * Auditors (issue 4): the filtered global log, the NDJSON export, offline
 * verification with the CLI (tampering: tamper.test.ts), and the
 * CLI's errors for an unreachable server and a refused token.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { RecordedEvent } from '../../src/eventstore/event-store.port.js';
import { parseEventFilter, readFilteredPage, type FilteredPage } from '../../src/modules/audit/event-filter.js';
import { tempDir } from '../support/env.js';
import { dropPostgresSchema, STORE_KINDS } from '../support/store-kinds.js';
import { startTestApp, TOKENS, type TestApp } from '../support/app.js';
import {
  assertError,
  createVmOp,
  registerSimHost,
  runOk,
  storeEvents,
  waitSettled,
  type Json,
} from '../support/e2e.js';

const CLI = join(process.cwd(), 'dist/src/cli/main.js');

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** GET an NDJSON export as auditor, with the body kept as text. */
function getExport(t: TestApp, url: string) {
  return t
    .as('auditor')
    .get(url)
    .buffer(true)
    .parse((r, cb) => {
      let s = '';
      r.setEncoding('utf8');
      r.on('data', (d: string) => (s += d));
      r.on('end', () => cb(null, s));
    });
}

function ndjson(text: string): Json[] {
  return text
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Json);
}

function cli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const clean = { ...process.env };
    delete clean.VIRTLEDGER_TOKEN;
    delete clean.VIRTLEDGER_URL;
    const p = spawn(process.execPath, [CLI, ...args], { env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

for (const { store, skip } of STORE_KINDS) {
  describe(`e2e: auditors — filtered log, export, offline verify, CLI (${store})`, { skip }, () => {
    let t: TestApp;
    let url: string;
    const tmp = tempDir('vl-audit-');
    let vm1: string;
    let vm2: string;
    let host1: string;
    let stopOp: string;
    let all: RecordedEvent[];

    before(async () => {
      t = await startTestApp({ store });
      host1 = (await registerSimHost(t, 'hv-a')).id as string;
      const host2 = (await registerSimHost(t, 'hv-b')).id as string;
      const a = await createVmOp(t, { name: 'a', hostId: host1 });
      assert.equal(a.operation.status, 'succeeded');
      vm1 = a.accepted.vmId;
      const b = await createVmOp(t, { name: 'b', hostId: host2 });
      assert.equal(b.operation.status, 'succeeded');
      vm2 = b.accepted.vmId;
      // An admin stops vm2: a second principal and a known correlation id.
      stopOp = (await runOk(t, 'post', `/v1/vms/${vm2}/stop`, { reason: 'audit test' }, 'admin')).accepted.operationId;
      await runOk(t, 'post', `/v1/vms/${vm1}/reboot`);
      await waitSettled(t, [host1, host2]);
      all = await storeEvents(t);
      await t.app.listen(0, '127.0.0.1');
      url = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
    });
    after(async () => {
      await t?.close();
      if (t) await dropPostgresSchema(t.eventStoreUrl);
      tmp.cleanup();
    });

    /** Pages a filtered query to the end, asserting the paging contract. */
    async function pageAll(query: string, limit: number): Promise<Json[]> {
      const out: Json[] = [];
      let next: string | null = '0';
      for (let pages = 0; next !== null; pages++) {
        assert.ok(pages < 500, 'paging does not terminate');
        const res = await t.as('auditor').get(`/v1/events?${query}&fromPosition=${next}&limit=${limit}`);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        const items = res.body.items as Json[];
        assert.ok(items.length <= limit);
        if (res.body.next !== null) {
          assert.equal(items.length, limit, 'only the last page may be short');
          assert.ok(
            BigInt(res.body.next as string) > BigInt(items[items.length - 1]!.position as string),
            'next is past the page',
          );
        }
        out.push(...items);
        next = res.body.next as string | null;
      }
      const positions = out.map((e) => e.position as string);
      assert.equal(new Set(positions).size, positions.length, 'no event twice');
      return out;
    }

    async function assertFilter(query: string, pred: (e: RecordedEvent) => boolean): Promise<void> {
      const expected = all.filter(pred).map((e) => e.position.toString());
      assert.ok(expected.length > 0, `${query}: the fixture has matching events`);
      assert.ok(expected.length < all.length, `${query}: the fixture has non-matching events`);
      for (const limit of [1, 2, 1000]) {
        const got = await pageAll(query, limit);
        assert.deepEqual(
          got.map((e) => e.position),
          expected,
          `${query} limit=${limit}: exactly the matching events, in log order`,
        );
      }
    }

    test('GET /v1/events filters by vmId, hostId, type, principal, correlationId, since/until; small pages cover them once', async () => {
      await assertFilter(`vmId=${vm1}`, (e) => e.streamId === `vm-${vm1}`);
      await assertFilter(`hostId=${host1}`, (e) => e.streamId === `host-${host1}`);
      await assertFilter(
        'type=VmStopRequested,VmStopped',
        (e) => e.type === 'VmStopRequested' || e.type === 'VmStopped',
      );
      const adminPrincipal = all.find((e) => e.type === 'VmStopRequested')!.metadata.principal;
      assert.match(adminPrincipal, /^admin#/);
      await assertFilter(
        `principal=${encodeURIComponent(adminPrincipal)}`,
        (e) => e.metadata.principal === adminPrincipal,
      );
      await assertFilter(`correlationId=${stopOp}`, (e) => e.metadata.correlationId === stopOp);
      const since = all[Math.floor(all.length / 3)]!.metadata.at;
      const until = all[Math.floor((2 * all.length) / 3)]!.metadata.at;
      await assertFilter(`since=${encodeURIComponent(since)}`, (e) => Date.parse(e.metadata.at) >= Date.parse(since));
      await assertFilter(`until=${encodeURIComponent(until)}`, (e) => Date.parse(e.metadata.at) <= Date.parse(until));
      await assertFilter(
        `since=${encodeURIComponent(since)}&until=${encodeURIComponent(until)}`,
        (e) => Date.parse(e.metadata.at) >= Date.parse(since) && Date.parse(e.metadata.at) <= Date.parse(until),
      );
      // Combined: store-side (stream, type) and scan-side (correlation) filters.
      await assertFilter(
        `vmId=${vm2}&type=VmStopped,VmOperationRunning&correlationId=${stopOp}`,
        (e) =>
          e.streamId === `vm-${vm2}` &&
          ['VmStopped', 'VmOperationRunning'].includes(e.type) &&
          e.metadata.correlationId === stopOp,
      );
      // A filter nothing matches: one empty page.
      const none = await t.as('auditor').get('/v1/events?vmId=00000000-0000-4000-8000-000000000000');
      assert.deepEqual(none.body, { items: [], next: null });
    });

    test('GET /v1/events: bad since/until/type/vmId answer 400 naming the field; viewers are refused', async () => {
      assertError(await t.as('auditor').get('/v1/events?since=yesterday'), 400, 'since');
      assertError(await t.as('auditor').get('/v1/events?until=2024-13-45T99:00:00Z'), 400, 'until');
      assertError(await t.as('auditor').get('/v1/events?type=,'), 400, 'type');
      assertError(await t.as('auditor').get('/v1/events?vmId=a%20b'), 400, 'vmId');
      const both = await t.as('auditor').get('/v1/events?since=x&until=y');
      assertError(both, 400, 'since');
      assertError(both, 400, 'until');
      assertError(
        await t.as('auditor').get('/v1/events?since=2030-01-01T00:00:00Z&until=2020-01-01T00:00:00Z'),
        400,
        'until',
      );
      assert.equal((await t.as('viewer').get('/v1/events?vmId=x')).status, 403);
    });

    test('GET /v1/audit/export streams NDJSON of the log (whole, one VM, a range); the offline CLI verifies it', async () => {
      const res = await getExport(t, '/v1/audit/export');
      assert.equal(res.status, 200);
      assert.match(String(res.headers['content-type']), /^application\/x-ndjson/);
      const text = res.body as string;
      const lines = ndjson(text);
      assert.equal(lines.length, all.length);
      for (const [i, e] of lines.entries()) {
        const s = all[i]!;
        assert.deepEqual(Object.keys(e).sort(), ['data', 'id', 'metadata', 'position', 'revision', 'streamId', 'type']);
        assert.equal(e.position, s.position.toString());
        assert.equal(e.streamId, s.streamId);
        assert.equal(e.revision, Number(s.revision));
        assert.equal(e.id, s.id);
        assert.deepEqual(e.data, s.data);
        assert.deepEqual(e.metadata, s.metadata);
      }
      const file = join(tmp.dir, 'all.ndjson');
      writeFileSync(file, text);
      const streams = new Set(all.map((e) => e.streamId)).size;
      const ok = await cli(['audit', 'verify', file]);
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal(ok.stdout.trim(), `verified ${all.length} events in ${streams} streams`);
      const okJson = await cli(['audit', 'verify', file, '--json']);
      assert.equal(okJson.code, 0);
      assert.deepEqual(JSON.parse(okJson.stdout), { verified: true, count: all.length, streams, firstBreak: null });

      // One VM.
      const one = await getExport(t, `/v1/audit/export?vmId=${vm1}`);
      const oneLines = ndjson(one.body as string);
      assert.deepEqual(
        oneLines.map((e) => e.id),
        all.filter((e) => e.streamId === `vm-${vm1}`).map((e) => e.id),
      );
      // A range (inclusive both ends), which starts mid-stream and still verifies (anchored on its first prevHash).
      const lo = Math.floor(all.length / 4);
      const hi = Math.floor((3 * all.length) / 4);
      const from = all[lo]!.position;
      const to = all[hi]!.position;
      const range = await getExport(t, `/v1/audit/export?fromPosition=${from}&toPosition=${to}`);
      const rangeLines = ndjson(range.body as string);
      assert.deepEqual(
        rangeLines.map((e) => e.position),
        all.slice(lo, hi + 1).map((e) => e.position.toString()),
      );
      const firstOfStream = new Map<string, number>();
      for (const e of rangeLines)
        if (!firstOfStream.has(e.streamId as string)) firstOfStream.set(e.streamId as string, e.revision as number);
      assert.ok(
        [...firstOfStream.values()].some((r) => r > 0),
        'the range starts some stream mid-way',
      );
      const rangeFile = join(tmp.dir, 'range.ndjson');
      writeFileSync(rangeFile, range.body as string);
      const rv = await cli(['audit', 'verify', rangeFile]);
      assert.equal(rv.code, 0, rv.stdout + rv.stderr);

      // Viewers and operators may not export.
      assert.equal((await t.as('viewer').get('/v1/audit/export')).status, 403);
      assert.equal((await t.as('operator').get('/v1/audit/export')).status, 403);
    });

    test('CLI against the server: verify and log, token from flags or VIRTLEDGER_TOKEN/VIRTLEDGER_URL', async () => {
      const v = await cli(['audit', 'verify', '--server', url, '--token', TOKENS.auditor]);
      assert.equal(v.code, 0, v.stderr);
      assert.match(v.stdout, /^verified \d+ events in \d+ streams\n$/);
      const vm = await cli(['audit', 'verify', '--vm', vm1, '--json'], {
        VIRTLEDGER_URL: url,
        VIRTLEDGER_TOKEN: TOKENS.auditor,
      });
      assert.equal(vm.code, 0, vm.stderr);
      const report = JSON.parse(vm.stdout) as Json;
      assert.equal(report.verified, true);
      assert.equal(report.count, all.filter((e) => e.streamId === `vm-${vm1}`).length);

      const log = await cli(['audit', 'log', '--server', url, '--token', TOKENS.auditor, '--vm', vm2, '--json']);
      assert.equal(log.code, 0, log.stderr);
      assert.deepEqual(
        log.stdout
          .trim()
          .split('\n')
          .map((l) => (JSON.parse(l) as Json).id),
        all.filter((e) => e.streamId === `vm-${vm2}`).map((e) => e.id),
      );
      const table = await cli(['audit', 'log', '--vm', vm2], { VIRTLEDGER_URL: url, VIRTLEDGER_TOKEN: TOKENS.auditor });
      assert.equal(table.code, 0, table.stderr);
      const rows = table.stdout.trim().split('\n');
      assert.match(rows[0]!, /^POSITION\s+AT\s+STREAM\s+REV\s+TYPE\s+PRINCIPAL\s+CORRELATION$/);
      assert.equal(rows.length, 1 + all.filter((e) => e.streamId === `vm-${vm2}`).length);
      assert.ok(rows.some((r) => r.includes('VmStopRequested') && r.includes(stopOp)));
    });

    test('CLI: unreachable server and refused token give clear messages and exit 2', async () => {
      const dead = `http://127.0.0.1:${await closedPort()}`;
      for (const args of [
        ['audit', 'verify', '--server', dead, '--token', TOKENS.auditor],
        ['audit', 'log', '--server', dead, '--token', TOKENS.auditor],
      ]) {
        const r = await cli(args);
        assert.equal(r.code, 2, r.stdout + r.stderr);
        assert.match(r.stderr, new RegExp(`cannot reach ${dead.replace(/[.]/g, '\\.')}: .*ECONNREFUSED`));
        assert.equal(r.stdout, '');
      }
      const bad = await cli(['audit', 'verify', '--server', url, '--token', 'not-a-token']);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /token refused by .* \(401 Unauthorized\)/);
      const badLog = await cli(['audit', 'log'], { VIRTLEDGER_URL: url, VIRTLEDGER_TOKEN: 'not-a-token' });
      assert.equal(badLog.code, 2);
      assert.match(badLog.stderr, /token refused/);
      const viewer = await cli(['audit', 'log', '--server', url, '--token', TOKENS.viewer]);
      assert.equal(viewer.code, 2);
      assert.match(viewer.stderr, /token not allowed to \/v1\/events .*\(403 Forbidden\)/);
      const noToken = await cli(['audit', 'verify', '--server', url]);
      assert.equal(noToken.code, 2);
      assert.match(noToken.stderr, /no token: pass --token/);
      const noFile = await cli(['audit', 'verify', join(tmp.dir, 'missing.ndjson')]);
      assert.equal(noFile.code, 2);
      assert.match(noFile.stderr, /cannot read .*missing\.ndjson: ENOENT/);
    });

    test('a scan that runs out of budget returns a short page whose next cursor still covers every match once', async () => {
      const f = parseEventFilter({ correlationId: stopOp });
      const expected = all.filter((e) => e.metadata.correlationId === stopOp).map((e) => e.position);
      const got: bigint[] = [];
      let from: bigint | null = 0n;
      let shortWithNext = 0;
      for (let pages = 0; from !== null; pages++) {
        assert.ok(pages < 10000, 'paging does not terminate');
        const page: FilteredPage = await readFilteredPage(t.runtime.store!, f, from, 2, 3);
        if (page.next !== null && page.items.length < 2) shortWithNext++;
        if (page.next !== null && page.items.length) assert.ok(page.next > page.items[page.items.length - 1]!.position);
        got.push(...page.items.map((e) => e.position));
        from = page.next;
      }
      assert.deepEqual(got, expected);
      assert.ok(shortWithNext > 0, 'the budget was hit at least once');
    });
  });
}
