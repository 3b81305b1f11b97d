/**
 * Property-based fuzzing of every route in /docs-json (fast-check, fixed seed,
 * printed): never a 5xx, the v1 error shape on every 4xx, no event appended by a
 * refused request, no file outside a host's storage directory, no prototype
 * pollution. FUZZ_SEED / FUZZ_RUNS reproduce or enlarge a run; the big run is
 * chaos/scenarios/fuzz.ts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { startTestApp, TOKENS, type TestApp } from '../support/app.js';
import { listTree, unexpectedNewPaths } from '../support/fuzz-files.js';
import { describeRequest, formatReport, runFuzz, type FuzzReport } from '../support/fuzz-run.js';
import { toJson, obj } from '../support/fuzz-values.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261127);
const RUNS = Number(process.env.FUZZ_RUNS ?? 300);

describe('e2e: fuzzing every route', () => {
  let t: TestApp;
  let report: FuzzReport;

  before(async () => {
    t = await startTestApp();
    await t.app.listen(0, '127.0.0.1');
    const port = (t.app.getHttpServer().address() as AddressInfo).port;
    report = await runFuzz({ t, port, runs: RUNS, seed: SEED, log: (l) => console.log(l) });
    console.log(formatReport(report));
  });
  after(async () => {
    await t?.close();
  });

  test(`seed ${SEED}: no invariant broken`, () => {
    assert.deepEqual(report.violations, [], `reproduce with FUZZ_SEED=${SEED} FUZZ_RUNS=${RUNS}`);
  });

  test('every request got an answer, and no answer was a 5xx', () => {
    assert.equal(report.tried, RUNS);
    assert.equal(report.statuses.none ?? 0, 0);
    const fivexx = Object.entries(report.statuses).filter(([s]) => Number(s) >= 500);
    assert.deepEqual(fivexx, []);
  });

  test('the run reached the handlers: every route drawn, some commands accepted, many refused', () => {
    assert.equal(Object.keys(report.byRoute).length, report.routes, JSON.stringify(report.byRoute));
    assert.ok(report.routes >= 20, `only ${report.routes} routes in /docs-json`);
    const count = (lo: number, hi: number) =>
      Object.entries(report.statuses)
        .filter(([s]) => Number(s) >= lo && Number(s) < hi)
        .reduce((n, [, c]) => n + c, 0);
    assert.ok(count(200, 300) > 10, `2xx: ${count(200, 300)}`);
    assert.ok(count(400, 500) > RUNS / 3, `4xx: ${count(400, 500)}`);
    assert.ok(report.appended > 0, 'no request appended an event: the fuzzer never reached a command');
  });
});

describe('fuzz invariants can fail', () => {
  test('a file outside the storage dirs is reported; host storage and store files are not', () => {
    const before = ['hosts', 'events.sqlite3'];
    const after = [...before, 'events.sqlite3-wal', 'hosts/h1', 'hosts/h1/vm.json', 'evil', 'hosts/h9/x'];
    assert.deepEqual(unexpectedNewPaths(before, after, ['h1']), ['evil', 'hosts/h9/x']);
  });

  test('listTree sees a file written under a directory', () => {
    const t = join(process.env.TMPDIR ?? '/tmp', `vl-fuzz-tree-${process.pid}`);
    mkdirSync(join(t, 'a', 'b'), { recursive: true });
    writeFileSync(join(t, 'a', 'b', 'c'), 'x');
    try {
      assert.deepEqual(listTree(t).sort(), ['a', 'a/b', 'a/b/c']);
    } finally {
      rmSync(t, { recursive: true, force: true });
    }
  });

  test('own __proto__ keys and raw number tokens reach the wire', () => {
    const text = toJson(
      obj([
        ['__proto__', obj([['polluted', 'yes']])],
        ['n', { t: 'raw', text: '1e999' }],
      ]),
    );
    assert.equal(text, '{"__proto__":{"polluted":"yes"},"n":1e999}');
    const parsed = JSON.parse(text) as Record<string, unknown>;
    assert.ok(Object.prototype.hasOwnProperty.call(parsed, '__proto__'));
    assert.equal(parsed.n, Infinity);
  });

  test('a printed request never shows a token', () => {
    const line = describeRequest({
      route: 'GET /v1/vms',
      method: 'GET',
      path: '/v1/vms',
      headers: { authorization: `Bearer ${TOKENS.admin}` },
      intended: 'valid',
    });
    assert.ok(!line.includes(TOKENS.admin));
    assert.match(line, /<admin token>/);
  });
});
