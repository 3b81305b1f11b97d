/**
 * The fuzz loop shared by test/api/fuzz.test.ts (a few hundred requests) and
 * chaos/scenarios/fuzz.ts (thousands): every route from /docs-json, hostile
 * requests drawn by fast-check from a fixed seed, sent one at a time to the real
 * app, each answer checked against the invariants below.
 */
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RecordedEvent } from '../../src/eventstore/event-store.port.js';
import { TOKENS, type TestApp } from './app.js';
import { findMarker, listTree, unexpectedNewPaths } from './fuzz-files.js';
import { sendRaw } from './fuzz-http.js';
import { anyRequest, requestOf, type FuzzContext, type FuzzRequest } from './fuzz-request.js';
import { loadRoutes, type FuzzRoute } from './fuzz-routes.js';

export interface FuzzReport {
  seed: number;
  routes: number;
  tried: number;
  /** Answers by status code. */
  statuses: Record<string, number>;
  /** Requests by route template. */
  byRoute: Record<string, number>;
  /** Requests that appended at least one event (2xx commands). */
  appended: number;
  /** Operation ids of the commands accepted (202), replays of an Idempotency-Key excluded. */
  operations: string[];
  /** Files a request made outside a host's storage directory. */
  fileLeaks: number;
  /** Each broken invariant, with the request that broke it. */
  violations: string[];
  durationMs: number;
}

const POLLUTION_KEYS = ['polluted', 'isAdmin'];

function prototypeShape(): string {
  return [Object.prototype, Array.prototype, Function.prototype, String.prototype]
    .map((p) => Object.getOwnPropertyNames(p).sort().join(','))
    .join('|');
}

function polluted(shape: string): string | undefined {
  const probe: Record<string, unknown> = {};
  for (const k of POLLUTION_KEYS) if (probe[k] !== undefined) return `({}).${k} is ${JSON.stringify(probe[k])}`;
  if (prototypeShape() !== shape) return 'a built-in prototype gained or lost a property';
  return undefined;
}

/** The request as a reproducible line, tokens replaced by their role. */
export function describeRequest(req: FuzzRequest): string {
  const headers = { ...req.headers };
  let auth = headers.authorization ?? '';
  for (const [role, token] of Object.entries(TOKENS)) auth = auth.split(token).join(`<${role} token>`);
  if (headers.authorization !== undefined) headers.authorization = auth;
  const body = req.body ? req.body.toString('utf8') : '';
  return `${req.method} ${req.path} headers=${JSON.stringify(headers)} body=${JSON.stringify(body.length > 400 ? `${body.slice(0, 400)}…(${body.length} bytes)` : body)}`;
}

/** Ids that exist before the fuzzing starts: two hosts, two VMs, a snapshot. */
async function seedState(t: TestApp): Promise<FuzzContext['ids']> {
  const ids: FuzzContext['ids'] = { vm: [], host: [], operation: [], snapshot: ['s1'], network: [] };
  for (const name of ['fz-hv-1', 'fz-hv-2']) {
    const res = await t.as('admin').post('/v1/hosts', {
      name,
      driver: 'simulated',
      uri: 'simulated://?latencyMs=0',
      capacity: { vcpus: 4096, memoryMiB: 4194304 },
    });
    if (res.status !== 201) throw new Error(`seed host: ${res.status} ${JSON.stringify(res.body)}`);
    ids.host.push(res.body.id as string);
  }
  // A project with quotas, so fuzzed creates naming it go through admission (and its refusals).
  const project = await t.as('admin').post('/v1/projects', { name: 'fuzz', quotas: { vms: 20, vcpus: 64 } });
  if (project.status !== 201) throw new Error(`seed project: ${project.status} ${JSON.stringify(project.body)}`);
  // A network, so fuzzed reads, deletes and NICs naming it reach the handlers past the 404s.
  const net = await t.as('admin').post('/v1/networks', { name: 'fz-net', cidr: '10.99.0.0/24' });
  if (net.status !== 201) throw new Error(`seed network: ${net.status} ${JSON.stringify(net.body)}`);
  ids.network.push(net.body.id as string);
  for (const name of ['fz-vm-1', 'fz-vm-2']) {
    const res = await t.as('operator').post('/v1/vms', { name, vcpus: 1, memoryMiB: 64, diskGiB: 1 });
    if (res.status !== 202) throw new Error(`seed vm: ${res.status} ${JSON.stringify(res.body)}`);
    ids.vm.push(res.body.vmId as string);
    ids.operation.push(res.body.operationId as string);
    await t.as('admin').get(`/v1/operations/${res.body.operationId as string}?waitMs=20000`);
  }
  const snap = await t.as('operator').post(`/v1/vms/${ids.vm[0]!}/snapshots`, { name: 's1' });
  if (snap.status !== 202) throw new Error(`seed snapshot: ${snap.status} ${JSON.stringify(snap.body)}`);
  await t.as('admin').get(`/v1/operations/${snap.body.operationId as string}?waitMs=20000`);
  return ids;
}

/** Reads the log forward from a position; the fuzz loop keeps one cursor. */
async function eventsAfter(t: TestApp, after: bigint | undefined): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  for (;;) {
    const page = await t.runtime.store!.readAll({ ...(after !== undefined ? { after } : {}), maxCount: 1000 });
    if (!page.length) return out;
    out.push(...page);
    after = page[page.length - 1]!.position;
  }
}

function errorShapeProblem(req: FuzzRequest, status: number, text: string): string | undefined {
  if (req.method === 'HEAD' || status < 400) return undefined;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return `a ${status} answer that is not JSON: ${JSON.stringify(text.slice(0, 200))}`;
  }
  const b = body as Record<string, unknown>;
  if (b.statusCode !== status || typeof b.error !== 'string' || typeof b.message !== 'string')
    return `a ${status} answer without the v1 error shape: ${text.slice(0, 300)}`;
  return undefined;
}

export interface FuzzOptions {
  t: TestApp;
  /** The app must listen on this port (the fuzzer sends raw HTTP). */
  port: number;
  runs: number;
  seed: number;
  log?: (line: string) => void;
}

export async function runFuzz(opts: FuzzOptions): Promise<FuzzReport> {
  const { t, port, runs, seed } = opts;
  const log = opts.log ?? (() => undefined);
  const t0 = performance.now();
  const marker = `vlfz${randomBytes(6).toString('hex')}`;
  // A directory beside the data dir that absolute-path payloads aim at: it must stay empty.
  const outside = join(dirname(t.dataDir), `${marker}-outside`);
  mkdirSync(outside, { recursive: true });
  const ids = await seedState(t);
  const routes: FuzzRoute[] = await loadRoutes(port);
  const ctx: FuzzContext = { marker, outside, tokens: TOKENS, ids };
  const report: FuzzReport = {
    seed,
    routes: routes.length,
    tried: 0,
    statuses: {},
    byRoute: {},
    appended: 0,
    operations: [],
    fileLeaks: 0,
    violations: [],
    durationMs: 0,
  };
  const violation = (req: FuzzRequest | undefined, what: string) => {
    report.violations.push(`${what}${req ? `\n    request: ${describeRequest(req)}` : ''}`);
  };
  const treeBefore = listTree(t.dataDir);
  const shape = prototypeShape();
  let cursor = (await eventsAfter(t, undefined)).at(-1)?.position;
  log(`fuzz: seed=${seed} runs=${runs} routes=${routes.length} marker=${marker}`);

  const check = async (req: FuzzRequest): Promise<void> => {
    const pending = await eventsAfter(t, cursor);
    cursor = pending.at(-1)?.position ?? cursor;
    report.tried++;
    report.byRoute[req.route] = (report.byRoute[req.route] ?? 0) + 1;
    let status: number;
    let text: string;
    let headers: Record<string, string | string[] | undefined>;
    try {
      ({ status, text, headers } = await sendRaw(port, req));
    } catch (err) {
      report.statuses.none = (report.statuses.none ?? 0) + 1;
      violation(req, `no answer: ${(err as Error).message}`);
      return;
    }
    report.statuses[status] = (report.statuses[status] ?? 0) + 1;
    if (status === 202 && headers['idempotent-replayed'] === undefined) {
      const op = (JSON.parse(text) as { operationId?: unknown }).operationId;
      if (typeof op === 'string') report.operations.push(op);
    }
    if (status >= 500) violation(req, `answered ${status}: ${text.slice(0, 300)}`);
    const shapeProblem = errorShapeProblem(req, status, text);
    if (shapeProblem) violation(req, shapeProblem);
    const appended = await eventsAfter(t, cursor);
    cursor = appended.at(-1)?.position ?? cursor;
    // Saga and result events of earlier commands land at any time; an event this request caused is
    // one appended by an HTTP handler (causation http:<operation>) while it was being answered.
    const mine = appended.filter((e) => e.metadata.causationId.startsWith('http:'));
    if (mine.length) report.appended++;
    if (mine.length && status >= 400)
      violation(req, `answered ${status} but appended ${mine.map((e) => e.type).join(', ')}`);
    const p = polluted(shape);
    if (p) violation(req, `prototype pollution: ${p}`);
  };
  // One request per route first (drawn from the seed), so every route is reached whatever the
  // number of routes; the rest of the runs draw routes at random.
  const sweep = routes.slice(0, runs);
  for (const [i, route] of sweep.entries()) {
    const [req] = fc.sample(requestOf(route, ctx), { seed: seed + i, numRuns: 1 });
    if (req) await check(req);
  }
  if (runs > sweep.length) {
    await fc.assert(fc.asyncProperty(anyRequest(routes, ctx), check), {
      seed,
      numRuns: runs - sweep.length,
      endOnFailure: true,
    });
  }

  // Let accepted commands finish before looking at the disk.
  let last = -1;
  for (let i = 0; i < 100; i++) {
    const n = (await eventsAfter(t, undefined)).length;
    if (n === last) break;
    last = n;
    await sleep(200);
  }
  const hostIds = (await t.runtime.readModels.listHosts()).map((h) => h.state.id).filter((x): x is string => !!x);
  for (const p of unexpectedNewPaths(treeBefore, listTree(t.dataDir), hostIds)) {
    report.fileLeaks++;
    violation(undefined, `file written outside a host's storage directory: ${join(t.dataDir, p)}`);
  }
  const leaked = [
    ...readdirSync(outside).map((n) => join(outside, n)),
    ...findMarker(tmpdir(), marker, 3).filter((p) => p !== outside),
    ...findMarker(t.dataDir, marker, 12),
    ...findMarker(process.cwd(), marker, 2),
  ];
  for (const p of leaked) {
    report.fileLeaks++;
    violation(undefined, `a file named by a fuzzed request exists: ${p}`);
  }
  rmSync(outside, { recursive: true, force: true });
  report.durationMs = Math.round(performance.now() - t0);
  return report;
}

export function formatReport(r: FuzzReport): string {
  const statuses = Object.entries(r.statuses)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([s, n]) => `${s}:${n}`)
    .join(' ');
  return [
    `fuzz: seed=${r.seed} tried=${r.tried} requests over ${r.routes} routes in ${r.durationMs} ms; ${r.appended} appended events`,
    `fuzz: statuses ${statuses}`,
    `fuzz: violations ${r.violations.length}`,
    ...r.violations.slice(0, 20).map((v) => `  - ${v}`),
  ].join('\n');
}
