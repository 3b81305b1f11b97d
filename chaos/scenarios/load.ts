/**
 * Abuse: 200 concurrent clients for 60 s (--quick: 50 for 10 s) against the built
 * all-in-one process (dist/src/main.js) on simulated hosts, mixing reads and
 * commands under several tokens. Red when an answer is anything but 2xx, 409 or
 * 429, an accepted command never ends, the log lacks an accepted operation, holds
 * a result twice or an operation nobody was answered 202 for, the hash chain does
 * not verify, a VM's domain is orphaned, or the live heap after a forced full GC grows after
 * warm-up (a leak). Prints commands p50, reads p99 (and per route) of the requests the server admitted and
 * of every answer (a client answered 429 waits its Retry-After, as it is told), the `vms` read model's lag,
 * the server's CPU per request, and RSS over time with its verdict.
 *
 * The figures are of the measured window only: the last two thirds of the run, after the warm-up (the first
 * third) and the first heap sample. The heap samples (a forced full GC and a census walking the heap, seconds
 * of stopped loop on a busy machine) run outside it, one before and one after, so the figures are the server's
 * behaviour under load and not the checker's pauses; the clients keep the load on through the first sample.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { summarize } from '../../bench/stats.js';
import type { ChaosRow } from '../chaos-row.js';
import { startServerProcess, type ServerProcess } from '../../test/support/fuzz-server.js';
import {
  cacheAwareHeapVerdict,
  cacheLine,
  cpuSeconds,
  lagMs as lagOf,
  liveHeapVerdict,
  rssVerdict,
} from '../support/load-figures.js';
import { inspectorUrl } from '../support/inspector-heap.js';
import { MemorySampler, type CensusAt } from '../support/memory-sampler.js';
import { ledgerFigures, readLog } from '../support/ledger-check.js';
import { LatencyBook, mainThreadCpuMs } from '../support/load-latency.js';
import { loadServerEnv } from '../support/load-server-env.js';
import { LoadWindow, RssSeries, sampleLag } from '../support/load-window.js';
import { warningCounts, warningTimes } from '../support/server-warnings.js';

interface Client {
  token: string;
  role: 'operator' | 'viewer';
}

type Json = Record<string, unknown>;

const OPERATORS = 10;
const VIEWERS = 10;

function tokenOf(role: string, i: number): string {
  return `${role}-load-token-${String(i).padStart(4, '0')}-0123456789`;
}

export async function run(opts: { quick?: boolean }): Promise<ChaosRow & { problems: string[] }> {
  const clients = Number(process.env.LOAD_CLIENTS ?? (opts.quick ? 50 : 200));
  const seconds = Number(process.env.LOAD_SECONDS ?? (opts.quick ? 10 : 60));
  const admin = tokenOf('admin', 0);
  const tokens = [
    `admin:${admin}`,
    ...Array.from({ length: OPERATORS }, (_, i) => `operator:${tokenOf('operator', i)}`),
    ...Array.from({ length: VIEWERS }, (_, i) => `viewer:${tokenOf('viewer', i)}`),
  ];
  const srv: ServerProcess = await startServerProcess(
    { AUTH_TOKENS: tokens.join(','), LOG_LEVEL: 'warn', WORKER_CONCURRENCY: '16', ...loadServerEnv() },
    // The inspector (loopback, a free port): the live heap after a forced full GC tells a leak from garbage V8
    // has not collected yet (RSS shows both). LOAD_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR" profiles the server.
    ['--inspect=127.0.0.1:0', ...(process.env.LOAD_NODE_ARGS ?? '').split(' ').filter(Boolean)],
  );
  const problems: string[] = [];
  try {
    const call = async (token: string, method: string, path: string, body?: Json) => {
      const res = await fetch(srv.base + path, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      return {
        status: res.status,
        body: (text ? JSON.parse(text) : {}) as Json,
        retryAfter: Number(res.headers.get('retry-after') ?? 0),
      };
    };
    /** The checks after the run: the admin's own 429 (its burst limit) or a 503 to retry is waited out. */
    const check = async (path: string) => {
      for (let attempt = 1; ; attempt++) {
        const r = await call(admin, 'GET', path);
        if ((r.status !== 429 && !(r.status === 503 && r.retryAfter > 0)) || attempt >= 30) return r;
        await new Promise((resolve) => setTimeout(resolve, Math.max(1, r.retryAfter) * 1000));
      }
    };
    const hosts: string[] = [];
    for (const name of ['load-hv-1', 'load-hv-2']) {
      const r = await call(admin, 'POST', '/v1/hosts', {
        name,
        driver: 'simulated',
        uri: 'simulated://?latencyMs=5',
        capacity: { vcpus: 100_000, memoryMiB: 1_000_000_000 },
      });
      if (r.status !== 201) throw new Error(`host: ${r.status} ${JSON.stringify(r.body)}`);
      hosts.push(r.body.id as string);
    }
    const vms: string[] = [];
    const operations: string[] = [];
    for (let i = 0; i < 20; i++) {
      const r = await call(tokenOf('operator', 0), 'POST', '/v1/vms', {
        name: `load-seed-${i}`,
        vcpus: 1,
        memoryMiB: 64,
        diskGiB: 1,
      });
      if (r.status !== 202) throw new Error(`seed vm: ${r.status} ${JSON.stringify(r.body)}`);
      vms.push(r.body.vmId as string);
      operations.push(r.body.operationId as string);
    }
    await sleep(1000);

    const statuses: Record<string, number> = {};
    /** Requests started in the measured window, and those before it (the warm-up, printed apart). */
    const latencies = new LatencyBook();
    const warmup = new LatencyBook();
    const unexpected: string[] = [];
    let otherErrors = 0;
    let gone = 0;
    /** When each accepted operation was answered, to tell a lagging read model from a lost operation. */
    const acceptedAt = new Map<string, number>();
    const staleAges: number[] = [];
    let behind = 0;
    const started = performance.now();
    const startedAt = Date.now();
    const second = () => Math.round((performance.now() - started) / 1000);
    // Warm-up: the first third of the run (V8 sizes its heap and Redis its pipelines to the load).
    const warmupS = Math.round(seconds / 3);
    const inspector = inspectorUrl(srv.output());
    const mem = new MemorySampler(inspector, srv.child.pid!, () => srv.rssMiB());
    const { liveHeap, rssAfterGc, caches, memory } = mem;
    const series = new RssSeries(srv.child.pid!, () => srv.rssMiB(), second);
    series.start();
    const { rss } = series;
    /** Seconds the loop was held by each heap sample (outside the window): printed, so the exclusion is seen. */
    const samplesTook: number[] = [];
    /** Epoch ms each heap sample ran from and to: what the server logged then was the checker's doing. */
    const sampleSpans: Array<[number, number]> = [];
    const heapSample = async (census: CensusAt) => {
      const from = performance.now();
      await mem.sample(second(), census);
      samplesTook.push((performance.now() - from) / 1000);
      sampleSpans.push([Date.now() - (performance.now() - from), Date.now()]);
    };
    // The measured window: set once the warm-up and the first heap sample are over (the clients run until its end).
    const health = () =>
      call(admin, 'GET', '/health').then(
        (r) => r.body,
        () => undefined,
      );
    const measured = new LoadWindow(srv.child.pid!, health);
    // Under load, after warm-up; the caches are counted before its RSS (see MemorySampler: a census holds RSS).
    const windowOpened = measured.open(warmupS, seconds - warmupS, () => heapSample('before'));
    const lagSampler = sampleLag(health);
    let seq = 0;
    const pick = <T>(xs: T[]): T => xs[Math.floor(Math.random() * xs.length)]!;

    const one = async (c: Client) => {
      const vm = pick(vms);
      const op = pick(operations);
      let method = 'GET';
      let path: string;
      let body: Json | undefined;
      const roll = Math.random();
      if (c.role === 'viewer' || roll < 0.7) {
        path = pick([
          '/v1/vms?limit=50',
          `/v1/vms/${vm}`,
          `/v1/vms/${vm}/snapshots`,
          '/v1/hosts',
          `/v1/operations/${op}`,
          '/v1/operations?limit=20',
        ]);
      } else if (roll < 0.76) {
        method = 'POST';
        path = '/v1/vms';
        body = { name: `load-${++seq}`, vcpus: 1, memoryMiB: 64, diskGiB: 1 };
      } else if (roll < 0.78) {
        method = 'DELETE';
        path = `/v1/vms/${vm}`;
      } else {
        method = 'POST';
        const verb = pick(['start', 'stop', 'pause', 'resume', 'reboot', 'snapshots']);
        path = `/v1/vms/${vm}/${verb}`;
        body = verb === 'snapshots' ? { name: `s-${++seq}` } : verb === 'stop' ? { force: true } : {};
      }
      const t0 = performance.now();
      const cpuAt0 = mainThreadCpuMs(srv.child.pid!);
      let status: number;
      let res: Json;
      let retryAfterS = 0;
      try {
        const r = await call(c.token, method, path, body);
        status = r.status;
        res = r.body;
        retryAfterS = r.retryAfter;
      } catch (err) {
        // No answer at all: fetch names the socket's error in `cause` (ECONNRESET, other side closed…).
        const cause = (err as { cause?: { code?: string; message?: string } }).cause;
        status = 0;
        res = { message: (err as Error).message, cause: cause?.code ?? cause?.message };
      }
      const took = performance.now() - t0;
      const args: Parameters<LatencyBook['record']> = [
        method === 'GET' ? 'read' : 'command',
        path.replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, '{id}'),
        status,
        took,
        mainThreadCpuMs(srv.child.pid!) - cpuAt0,
      ];
      (t0 >= measured.start ? latencies : warmup).record(...args);
      statuses[status] = (statuses[status] ?? 0) + 1;
      // A client of a busy server waits as it is told (the CLI's users, a well-behaved script), within the run.
      if (status === 429)
        await sleep(Math.min(Math.max(1, retryAfterS) * 1000, Math.max(0, measured.deadline - performance.now())));
      if (status === 202) {
        operations.push(res.operationId as string);
        acceptedAt.set(res.operationId as string, performance.now());
        if (path === '/v1/vms') vms.push(res.vmId as string);
        // A deleted VM leaves the pool; a 404 "was deleted" for it is the contract, not an error.
        if (method === 'DELETE' && vms.includes(vm)) vms.splice(vms.indexOf(vm), 1);
      } else if (status === 404 && path.startsWith('/v1/vms/') && /was deleted/.test(String(res.message))) {
        // Only this run deletes VMs: another client's delete may land before its own 202 arrives.
        gone++;
      } else if (status === 404 && path.startsWith('/v1/operations/') && acceptedAt.has(op)) {
        staleAges.push(t0 - acceptedAt.get(op)!);
      } else if (status === 503 && path.startsWith('/v1/operations/') && /not caught up/.test(String(res.message))) {
        // The read model is more than READ_MODEL_WAIT_MS behind: an honest "retry", not an error.
        behind++;
      } else if (!(status >= 200 && status < 300) && status !== 409 && status !== 429) {
        otherErrors++;
        if (unexpected.length < 20)
          unexpected.push(`${method} ${path} → ${status} ${JSON.stringify(res).slice(0, 200)}`);
      }
    };

    const roles: Client[] = Array.from({ length: clients }, (_, i) =>
      i % 3 === 2
        ? { role: 'viewer', token: tokenOf('viewer', i % VIEWERS) }
        : { role: 'operator', token: tokenOf('operator', i % OPERATORS) },
    );
    await Promise.all([
      windowOpened,
      ...roles.map(async (c) => {
        while (performance.now() < measured.deadline) await one(c);
      }),
    ]);
    const windowEnd = performance.now();
    series.stop();
    lagSampler.stop();
    const windowStart = measured.start;
    const wallMs = windowEnd - windowStart;
    const cpuMs = (cpuSeconds(srv.child.pid!) - measured.cpu0) * 1000;
    // After the window, the clients stopped (the server still turns round what they left: jobs, projections); the
    // census after its RSS. A leak shows here as in a sample under load: what a full GC cannot free stays.
    await heapSample('after');
    const cachesAt = mem.cachesAtEnds();
    const heapV = cacheAwareHeapVerdict(liveHeapVerdict(liveHeap), liveHeap, cachesAt.first, cachesAt.last);
    const rssGcV = liveHeapVerdict(rssAfterGc, 'RSS right after a forced full GC', 25);

    // Every accepted command must end (succeeded or failed with a reason).
    let ended = 0;
    const queue = [...operations];
    const notEnded: string[] = [];
    const missing: string[] = [];
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        for (let op = queue.pop(); op; op = queue.pop()) {
          const r = await check(`/v1/operations/${op}?waitMs=30000`);
          if (r.status === 404) missing.push(op);
          else if (['succeeded', 'failed', 'cancelled'].includes(r.body.status as string)) ended++;
          else notEnded.push(`${op}: ${JSON.stringify(r.body).slice(0, 200)}`);
        }
      }),
    );

    // A managed domain without a live VM is an orphan.
    const live = new Set<string>();
    for (let cursor: unknown = '0'; cursor !== null && cursor !== undefined;) {
      const r = await check(`/v1/vms?limit=1000&cursor=${String(cursor)}`);
      if (r.status !== 200) throw new Error(`GET /v1/vms after the run: ${r.status} ${JSON.stringify(r.body)}`);
      for (const v of r.body.items as Json[]) if (v.state !== 'deleted') live.add(v.id as string);
      cursor = r.body.next;
    }
    let orphans = 0;
    for (const h of hosts) {
      const r = await check(`/v1/hosts/${h}/domains`);
      for (const d of r.body.items as Json[]) if (d.managed && !live.has(d.vmId as string)) orphans++;
    }

    // The log itself, read from the server's store: every accepted operation recorded, none recorded twice, and
    // nothing recorded for a command that was refused (a 409 or 429 must append nothing).
    const log = await readLog('sqlite:events.sqlite3', srv.dataDir);
    const ledger = ledgerFigures(log, operations);
    const answered = new Set(operations);
    const unanswered = new Set<string>();
    for (const e of log) {
      const op = e.data.operationId;
      if (typeof op === 'string' && !answered.has(op)) unanswered.add(`${e.type} ${op}`);
    }
    const verify = await check('/v1/audit/verify');
    if (verify.status !== 200 || verify.body.verified !== true)
      problems.push(`hash chain: ${verify.status} ${JSON.stringify(verify.body).slice(0, 300)}`);

    const inWindow = (seenAt: number) => seenAt >= windowStart && seenAt < windowEnd;
    const { lags, neverReached } = lagOf(lagSampler.samples, inWindow);
    const lag = summarize(lags, wallMs);
    const { all, admittedReads, admittedCommands } = latencies.figures(wallMs);
    // A 429 costs a fraction of a request worked on: per admitted request, a run that refused more is not cheaper.
    const admitted = admittedReads.n + admittedCommands.n;
    const rssStart = rss[0]![1];
    const rssV = rssVerdict(rss, warmupS);
    const f = (x: number) => x.toFixed(1);
    const warmupMs = windowStart - started;
    console.log(
      `load: ${clients} clients × ${seconds} s; measured window ${f(wallMs / 1000)} s after ${f(warmupMs / 1000)} s of ` +
        `warm-up and the first heap sample: ${all.n} requests (${f(all.perSecond)}/s); statuses of the whole run ${JSON.stringify(statuses)}`,
    );
    for (const line of latencies.lines(wallMs)) console.log(`load: ${line}`);
    console.log(
      `load: projection lag (vms) p50=${f(lag.p50)} ms p99=${f(lag.p99)} ms (${lag.n} samples of /health, every 250 ms` +
        `${neverReached ? `; ${neverReached} heads not applied before the run ended` : ''})`,
    );
    console.log(
      `load: heap samples outside the window, the loop held ${samplesTook.map((s) => `${f(s)} s`).join(' and ')}; ` +
        `warm-up (not in the figures): ${warmup.lines(warmupMs).slice(0, 2).join('; ')}`,
    );
    // On a closed loop without think time, latency is clients ÷ throughput (Little's law): the server's CPU per
    // request is what decides both, and unlike wall-clock figures it does not move with the machine's other load.
    console.log(
      `load: server CPU ${f(cpuMs / 1000)} s over ${f(wallMs / 1000)} s = ${f(cpuMs / all.n)} ms per request, ` +
        `${f(cpuMs / Math.max(1, admitted))} ms per admitted one ` +
        `(${f(cpuMs / wallMs / 0.01)} % of one core); Little's law: ${clients} clients ÷ ${f(all.perSecond)}/s = ` +
        `${f((clients / all.perSecond) * 1000)} ms mean latency`,
    );
    console.log(`load: server RSS MiB ${rss.map(([s, m]) => `${s}s:${m}`).join(' ')}`);
    console.log(
      `load: server RSS by kind, MiB (V8 heaps and other anonymous / malloc brk heap / thread arenas): ${series.kindsLine()}`,
    );
    console.log(`load: ${rssV.line}`);
    console.log(`load: ${heapV.line}`);
    for (const [at, counts] of caches) console.log(`load: server caches at ${at} s: ${cacheLine(counts)}`);
    for (const [at, m] of memory)
      console.log(`load: server memory after the full GC at ${at} s, MiB: ${JSON.stringify(m)}`);
    console.log(`load: ${rssGcV.line}`);
    // E.g. "lease lost; stopping the roles it guards": the projections stopped and restarted, the lag's spikes.
    console.log(`load: server warnings and errors by message: ${JSON.stringify(warningCounts(srv.output()))}`);
    const lost = warningTimes(srv.output(), 'lease lost; stopping the roles it guards', startedAt, sampleSpans);
    if (lost.length) console.log(`load: control-plane lease lost at ${lost.join(', ')}`);
    console.log(
      `load: log ${ledger.events} events; accepted operations without an event ${ledger.lost.length}, ` +
        `results recorded twice ${ledger.duplicates.length}, operations recorded but never answered 202 ${unanswered.size}`,
    );

    if (otherErrors) problems.push(`${otherErrors} answers other than 2xx/409/429, e.g.`, ...unexpected);
    if (staleAges.length)
      problems.push(
        `${staleAges.length} reads of an accepted operation answered 404, at most ` +
          `${Math.round(Math.max(...staleAges))} ms after its 202 (a read of an operation this process accepted waits up to 3 s for the read model)`,
      );
    problems.push(...notEnded.slice(0, 10).map((s) => `operation never ended: ${s}`));
    // A leak is red. RSS that grows while the live heap after a forced full GC stays flat is garbage V8 has not
    // collected yet: the RSS verdict is printed (the issue's target) but it is no loss. Without heap samples, RSS decides.
    problems.push(...mem.problems);
    if (heapV.leak) problems.push(heapV.line);
    if (rssGcV.flat === false) problems.push(rssGcV.line);
    else if (!rssV.flat && rssGcV.flat === undefined) problems.push(rssV.line);
    problems.push(
      ...ledger.lost.slice(0, 10).map((id) => `lost: operation ${id} answered 202 has no event in the log`),
      ...ledger.duplicates.slice(0, 10).map((d) => `duplicate: ${d}`),
      ...[...unanswered].slice(0, 10).map((u) => `recorded although not answered 202: ${u}`),
      ...missing.slice(0, 10).map((id) => `lost: operation ${id} answered 202 reads 404 after the run`),
    );
    return {
      fault: `load ${clients} clients × ${seconds} s`,
      injected: all.n,
      opsStarted: operations.length,
      opsEnded: ended,
      eventsLost: Math.max(missing.length, ledger.lost.length),
      duplicates: operations.length - answered.size + ledger.duplicates.length,
      orphans,
      notes:
        `${f(all.perSecond)} req/s p50=${f(all.p50)} ms p99=${f(all.p99)} ms; ` +
        `projection lag p99=${f(lag.p99)} ms; 409=${statuses[409] ?? 0} 429=${statuses[429] ?? 0} 404(deleted VM)=${gone} 404(op not yet projected)=${staleAges.length} 503(read model behind)=${behind} other errors=${otherErrors}; ` +
        `${f(cpuMs / all.n)} ms server CPU per request; ` +
        `RSS ${rssStart}→${f(rssV.afterWarmup)}→${f(rssV.atEnd)} MiB (${rssV.flat ? 'flat' : 'GROWING'} after warm-up; ` +
        `after full GCs ${rssAfterGc.map(([, m]) => m).join('→')} MiB ${rssGcV.flat ? 'flat' : 'GROWING'}; ` +
        `live heap ${heapV.verdict})`,
      problems,
    };
  } finally {
    await srv.close();
  }
}
