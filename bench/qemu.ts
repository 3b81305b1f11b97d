import { Redis } from 'ioredis';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createHttpApp } from '../src/runtime/http-app.js';
import { loadConfig } from '../src/config/config.js';
import { vmPaths } from '../src/drivers/kit/vm-files.js';
import { freePort } from '../src/runtime/free-port.js';
import { deleteKeysWithPrefix } from '../src/projections/redis-keys.js';
import { Runtime } from '../src/runtime/runtime.js';
import { row, summarize, type Summary } from './stats.js';
import {
  DirectQemu,
  DISK_GIB,
  killQemusUnder,
  MEMORY_MIB,
  POLL_MS,
  QEMU,
  QEMU_IMG,
  sleep,
  type Timings,
} from './qemu-direct.js';
import { Breakdown, cpuMs, median, PhaseRecorder } from './qemu-phases.js';
import { spawnCost } from './spawn-cost.js';
import type { PhaseMark } from '../src/drivers/kit/phase-trace.js';

interface Phases {
  create: PhaseMark[];
  migrate: PhaseMark[];
}

/**
 * The qemu section: create → running and live migrate → running, through the control plane
 * (HTTP → decider → store → saga → BullMQ → worker → qemu driver → result → projection) and
 * driven directly over QMP by a minimal script, in the same run, one VM at a time.
 */

const TOKEN = 'bench-qemu-admin-token-0123456789';
const OP_TIMEOUT_MS = 180_000;
/** Issue #14's targets: control plane p50 / direct p50. */
const TARGET_CREATE = 1.15;
const TARGET_MIGRATE = 1.3;
const DONE = new Set(['succeeded', 'failed', 'cancelled']);

export interface QemuSectionOptions {
  redisUrl: string;
  /** A Redis prefix of its own (the section wipes it). */
  prefix: string;
  n: number;
  /** `--no-qemu`. */
  disabled: boolean;
}

/** Why the section cannot run here, or undefined. */
function skipReason(opts: QemuSectionOptions): string | undefined {
  if (opts.disabled) return '--no-qemu given';
  if (!Number.isInteger(opts.n) || opts.n < 1) return `--qemu-n must be a positive integer, got ${opts.n}`;
  for (const bin of [QEMU, QEMU_IMG]) {
    const r = spawnSync(bin, ['--version'], { stdio: 'ignore' });
    if (r.error || r.status !== 0) return `${bin} not found on PATH`;
  }
  return undefined;
}

export async function qemuSection(opts: QemuSectionOptions): Promise<void> {
  const reason = skipReason(opts);
  if (reason) {
    console.log(`\nqemu section skipped: ${reason}`);
    return;
  }
  const version = spawnSync(QEMU, ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0] ?? QEMU;
  // Short root: keeps every QMP/serial socket path under sun_path, so the driver needs no /tmp/vlq-* dirs.
  const root = mkdtempSync(join(tmpdir(), 'vlqb-'));
  const recorder = new PhaseRecorder();
  const direct = new DirectQemu(join(root, 'd'), recorder);
  const cp = new QemuControlPlane(root, opts, recorder);
  const phases = {
    cpCreate: new Breakdown('cp create → running (shared storage), per phase'),
    cpMig: new Breakdown('cp migrate live → running (shared storage), per phase'),
    dCreate: new Breakdown('direct create → running, per phase'),
    dMig: new Breakdown('direct migrate live → running (shared), per phase'),
  };
  const lat = {
    cpCreateShared: [] as number[],
    cpCreateSep: [] as number[],
    cpMigShared: [] as number[],
    cpMigNbd: [] as number[],
    dCreate: [] as number[],
    dMig: [] as number[],
    dSourceQuit: [] as number[],
  };
  // This process's CPU (API, sagas, consumer, worker, driver; not QEMU's): steadier than wall time on a busy machine.
  const cpu = { cpCreate: [] as number[], cpMig: [] as number[], dCreate: [] as number[], dMig: [] as number[] };
  const loadBefore = loadavg()[0]!;
  try {
    const argvCheck = direct.checkArgsMatchDriver();
    await cp.start();
    recorder.start();
    // Interleaved per i, so drift on the machine hits every row alike; strictly one VM at a time.
    for (let i = 0; i < opts.n; i++) {
      const sep = await cp.createMigrateDelete(`qb-sep-${i}`, cp.hosts.sepA, cp.hosts.sepB);
      lat.cpCreateSep.push(sep.create);
      lat.cpMigNbd.push(sep.migrate);
      const shr = await cp.createMigrateDelete(`qb-shr-${i}`, cp.hosts.sharedA, cp.hosts.sharedB);
      lat.cpCreateShared.push(shr.create);
      lat.cpMigShared.push(shr.migrate);
      cpu.cpCreate.push(shr.cpu.create);
      cpu.cpMig.push(shr.cpu.migrate);
      phases.cpCreate.add(shr.phases.create);
      phases.cpMig.add(shr.phases.migrate);
      const d = await direct.createMigrateQuit(`qbd-${i}`);
      phases.dCreate.add(d.phases.create);
      phases.dMig.add(d.phases.migrate);
      lat.dCreate.push(d.create);
      lat.dMig.push(d.migrate);
      lat.dSourceQuit.push(d.sourceQuit);
      cpu.dCreate.push(d.cpu.create);
      cpu.dMig.push(d.cpu.migrate);
    }
    const s = (xs: number[]): Summary =>
      summarize(
        xs,
        xs.reduce((a, b) => a + b, 0),
      );
    const r = {
      cpCreateShared: s(lat.cpCreateShared),
      cpCreateSep: s(lat.cpCreateSep),
      cpMigShared: s(lat.cpMigShared),
      cpMigNbd: s(lat.cpMigNbd),
      dCreate: s(lat.dCreate),
      dMig: s(lat.dMig),
      dSourceQuit: s(lat.dSourceQuit),
    };
    console.log(`\nsection: qemu (${version}, TCG, -m ${MEMORY_MIB}, ${DISK_GIB} GiB qcow2, no guest OS)`);
    console.log(
      `  n=${opts.n} per row, sequential: one VM at a time, rows interleaved per iteration; /s = 1 / mean latency\n` +
        `  control plane: all-in-one Runtime + HTTP, timed POST → operation succeeded (long-poll GET /v1/operations/{id});\n` +
        `  hosts qsa→qsb have separate storage dirs (live migration mirrors the disk over NBD),\n` +
        `  hosts qha→qhb share one storage dir (RAM only: the row to compare with the direct script).\n` +
        `  direct: same argv as the driver (${argvCheck}), qemu-img create, QMP query-status polled every ${POLL_MS} ms;\n` +
        `  (the driver runs qemu-img create once per disk size and writes its bytes after that: kit/blank-qcow2.ts)\n` +
        `  migration: target -incoming defer, migrate-incoming tcp:127.0.0.1:0, max-bandwidth as the driver sets,\n` +
        `  query-migrate until completed, target query-status running (shared storage, RAM only)`,
    );
    console.log(row('cp create → running (shared storage)', r.cpCreateShared));
    console.log(row('cp create → running (separate storage)', r.cpCreateSep));
    console.log(row('cp migrate live → running (shared storage)', r.cpMigShared));
    console.log(row('cp migrate live → running (NBD disk copy)', r.cpMigNbd));
    console.log(row('direct create → running', r.dCreate));
    console.log(row('direct migrate live → running (shared)', r.dMig));
    console.log(row('direct source quit (not in the rows above)', r.dSourceQuit));
    const p50 = (xs: number[]) => median(xs).toFixed(1);
    console.log(
      `  Node CPU per operation (p50, this process only, not QEMU): create cp ${p50(cpu.cpCreate)} ms` +
        ` / direct ${p50(cpu.dCreate)} ms; live migration cp ${p50(cpu.cpMig)} ms / direct ${p50(cpu.dMig)} ms`,
    );
    console.log(`  load average (1 min): ${loadBefore.toFixed(1)} at start, ${loadavg()[0]!.toFixed(1)} at end`);
    const createRatio = r.cpCreateShared.p50 / r.dCreate.p50;
    const migRatio = r.cpMigShared.p50 / r.dMig.p50;
    const verdict = (ratio: number, target: number) =>
      `${ratio.toFixed(2)}×  target ≤ ${target}×  ${ratio <= target ? 'met' : 'NOT met'}`;
    console.log('\n  ratio control plane p50 / direct p50 (issue #14):');
    console.log(`    create → running, shared storage       ${verdict(createRatio, TARGET_CREATE)}`);
    console.log(`    live migration → running, shared       ${verdict(migRatio, TARGET_MIGRATE)}`);
    console.log(
      `    (not like for like: create on separate storage ${(r.cpCreateSep.p50 / r.dCreate.p50).toFixed(2)}×,` +
        ` migration with NBD disk copy ${(r.cpMigNbd.p50 / r.dMig.p50).toFixed(2)}×)`,
    );
    console.log(
      '  the control-plane migration also ends the source QEMU before it reports success; the direct row does not',
    );
    console.log(
      '\n  where the time goes: marks published by each layer (virtledger:phase diagnostics channel) and the client;' +
        '\n  each row is the median time from one mark to the next',
    );
    for (const b of Object.values(phases)) b.print();
    const sc = await spawnCost();
    const f = (c: { blockedMs: number; cpuMs: number; wallMs: number }) =>
      `event loop blocked ${c.blockedMs.toFixed(2)} ms (CPU ${c.cpuMs.toFixed(2)} ms), pid known after ${c.wallMs.toFixed(1)} ms`;
    console.log(
      `\n  one spawn of /bin/true (p50 of 30 each, alternately), from this process (RSS ${sc.rssMiB.toFixed(0)} MiB):` +
        `\n    spawned here (fork of this process)        ${f(sc.here)}` +
        `\n    through the spawn helper (kit/spawn-helper) ${f(sc.helper)}` +
        `\n    (the driver starts QEMU and qemu-img through the helper; the direct script spawns here)`,
    );
  } finally {
    recorder.stop();
    direct.closeClients();
    await cp.stop().catch((err: unknown) => console.error('qemu section: control plane stop failed:', err));
    await killQemusUnder(root);
    cp.removeSocketDirs();
    await wipe(opts.redisUrl, opts.prefix).catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  }
}

/** All-in-one Runtime + HTTP app with two pairs of qemu hosts: separate storage dirs, and one shared dir. */
class QemuControlPlane {
  readonly hosts = { sepA: 'qsa', sepB: 'qsb', sharedA: 'qha', sharedB: 'qhb' };
  private runtime: Runtime | undefined;
  private app: Awaited<ReturnType<typeof createHttpApp>> | undefined;
  private base = '';
  private readonly storage = new Map<string, string>();
  private readonly vmIds: string[] = [];
  private readonly headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };

  constructor(
    private readonly root: string,
    private readonly opts: QemuSectionOptions,
    private readonly recorder: PhaseRecorder,
  ) {
    const shared = join(root, 'sh');
    this.storage.set(this.hosts.sepA, join(root, 'sa'));
    this.storage.set(this.hosts.sepB, join(root, 'sb'));
    this.storage.set(this.hosts.sharedA, shared);
    this.storage.set(this.hosts.sharedB, shared);
  }

  async start(): Promise<void> {
    const config = loadConfig({
      DATA_DIR: join(this.root, 'data'),
      // The hosts' storage dirs sit beside DATA_DIR under the bench's root.
      HOST_DIR_ROOTS: this.root,
      REDIS_URL: this.opts.redisUrl,
      REDIS_PREFIX: this.opts.prefix,
      EVENTSTORE_URL: 'sqlite:events.sqlite3',
      AUTH_TOKENS: `admin:${TOKEN}`,
      LOG_LEVEL: 'silent',
      SHUTDOWN_GRACE_MS: '5000',
    });
    this.runtime = await Runtime.create(config, pino({ level: 'silent' }));
    await this.runtime.startBackground();
    this.app = await createHttpApp(this.runtime);
    const port = await freePort();
    await this.app.listen(port, '127.0.0.1');
    this.base = `http://127.0.0.1:${port}`;
    for (const [id, dir] of this.storage) {
      mkdirSync(dir, { recursive: true });
      await this.request('POST', '/v1/hosts', {
        id,
        name: id,
        driver: 'qemu',
        uri: `qemu:///system?storage=${dir}&accel=tcg`,
        capacity: { vcpus: 8, memoryMiB: 4096 },
      });
    }
    const deadline = Date.now() + 30_000;
    while (this.runtime.pool.workers.size < this.storage.size) {
      if (Date.now() > deadline) throw new Error('qemu section: host workers did not start within 30 s');
      await sleep(50);
    }
  }

  /** Timed create on `source` and live migration to `target`; then an untimed delete. */
  async createMigrateDelete(
    name: string,
    source: string,
    target: string,
  ): Promise<Timings & { cpu: Timings; phases: Phases }> {
    const rec = this.recorder;
    let cpu = process.cpuUsage();
    let t = performance.now();
    const created = await this.request('POST', '/v1/vms', {
      name,
      vcpus: 1,
      memoryMiB: MEMORY_MIB,
      diskGiB: DISK_GIB,
      hostId: source,
    });
    const vmId = String(created.vmId);
    rec.mark(vmId, 'client POST /v1/vms sent', t);
    rec.mark(vmId, 'client got 202');
    this.vmIds.push(vmId);
    await this.waitOperation(String(created.operationId), `create ${name}`);
    let end = performance.now();
    rec.mark(vmId, 'client saw the operation succeeded', end);
    const create = end - t;
    const createCpu = cpuMs(cpu);
    const createPhases = rec.between(vmId, t, end);
    await this.expectRunningOn(vmId, source);

    cpu = process.cpuUsage();
    t = performance.now();
    rec.mark(vmId, 'client POST /migrations sent', t);
    const mig = await this.request('POST', `/v1/vms/${vmId}/migrations`, { targetHostId: target, live: true });
    rec.mark(vmId, 'client got 202');
    await this.waitOperation(String(mig.operationId), `migrate ${name} ${source}→${target}`);
    end = performance.now();
    rec.mark(vmId, 'client saw the operation succeeded', end);
    const migrate = end - t;
    const migrateCpu = cpuMs(cpu);
    const migratePhases = rec.between(vmId, t, end);
    await this.expectRunningOn(vmId, target);

    const del = await this.request('DELETE', `/v1/vms/${vmId}`);
    await this.waitOperation(String(del.operationId), `delete ${name}`);
    rec.forget(vmId);
    return {
      create,
      migrate,
      cpu: { create: createCpu, migrate: migrateCpu },
      phases: { create: createPhases, migrate: migratePhases },
    };
  }

  async stop(): Promise<void> {
    await this.app?.close();
    await this.runtime?.stop();
  }

  /** Socket dirs the driver puts in /tmp when a path would be too long (not expected with the short root). */
  removeSocketDirs(): void {
    for (const vmId of this.vmIds) {
      for (const [host, dir] of this.storage) {
        const p = vmPaths(dir, host, vmId);
        if (p.socketDir !== p.runDir) rmSync(p.socketDir, { recursive: true, force: true });
      }
    }
  }

  private async expectRunningOn(vmId: string, hostId: string): Promise<void> {
    const vm = await this.request('GET', `/v1/vms/${vmId}`);
    if (vm.state !== 'running' || vm.hostId !== hostId) {
      throw new Error(`VM ${vmId}: expected running on ${hostId}, got ${String(vm.state)} on ${String(vm.hostId)}`);
    }
  }

  /** Long-polls the operation as a client would; the timer stops when the answer arrives. */
  private async waitOperation(operationId: string, what: string): Promise<void> {
    const deadline = Date.now() + OP_TIMEOUT_MS;
    for (;;) {
      const op = await this.request('GET', `/v1/operations/${operationId}?waitMs=30000`);
      if (DONE.has(String(op.status))) {
        if (op.status !== 'succeeded')
          throw new Error(`qemu section: ${what} ${String(op.status)}: ${JSON.stringify(op)}`);
        return;
      }
      if (Date.now() > deadline) throw new Error(`qemu section: ${what} not done within ${OP_TIMEOUT_MS} ms`);
    }
  }

  private async request(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
    const res = await fetch(this.base + path, {
      method,
      headers: this.headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const json = (await res.json()) as Record<string, unknown>;
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  }
}

async function wipe(redisUrl: string, prefix: string): Promise<void> {
  const r = new Redis(redisUrl);
  try {
    await deleteKeysWithPrefix(r, prefix);
  } finally {
    r.disconnect();
  }
}
