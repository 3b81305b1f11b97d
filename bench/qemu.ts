import { Redis } from 'ioredis';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createHttpApp } from '../src/runtime/http-app.js';
import { loadConfig } from '../src/config/config.js';
import { qemuArgs } from '../src/drivers/qemu/qemu-args.js';
import { QmpClient } from '../src/drivers/qemu/qmp.client.js';
import type { QmpMigrationInfo, QmpStatusInfo } from '../src/drivers/qemu/qmp.types.js';
import { vmPaths } from '../src/drivers/kit/vm-files.js';
import { freePort } from '../src/runtime/free-port.js';
import { deleteKeysWithPrefix } from '../src/projections/redis-keys.js';
import { Runtime } from '../src/runtime/runtime.js';
import { row, summarize, type Summary } from './stats.js';

/**
 * The qemu section: create → running and live migrate → running, through the control plane
 * (HTTP → decider → store → saga → BullMQ → worker → qemu driver → result → projection) and
 * driven directly over QMP by a minimal script, in the same run, one VM at a time.
 */

const QEMU = 'qemu-system-x86_64';
const QEMU_IMG = 'qemu-img';
const TOKEN = 'bench-qemu-admin-token-0123456789';
const MEMORY_MIB = 64;
const DISK_GIB = 1;
const DISK_BYTES = DISK_GIB * 1024 ** 3;
/** The driver's default `max-bandwidth` for migration (qemu-uri.ts), applied to the direct script too. */
const MIGRATION_BANDWIDTH = 8 * 1024 * 1024 * 1024;
const OP_TIMEOUT_MS = 180_000;
const POLL_MS = 10;
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
  const direct = new DirectQemu(join(root, 'd'));
  const cp = new QemuControlPlane(root, opts);
  const lat = {
    cpCreateShared: [] as number[],
    cpCreateSep: [] as number[],
    cpMigShared: [] as number[],
    cpMigNbd: [] as number[],
    dCreate: [] as number[],
    dMig: [] as number[],
    dSourceQuit: [] as number[],
  };
  try {
    const argvCheck = direct.checkArgsMatchDriver();
    await cp.start();
    // Interleaved per i, so drift on the machine hits every row alike; strictly one VM at a time.
    for (let i = 0; i < opts.n; i++) {
      const sep = await cp.createMigrateDelete(`qb-sep-${i}`, cp.hosts.sepA, cp.hosts.sepB);
      lat.cpCreateSep.push(sep.create);
      lat.cpMigNbd.push(sep.migrate);
      const shr = await cp.createMigrateDelete(`qb-shr-${i}`, cp.hosts.sharedA, cp.hosts.sharedB);
      lat.cpCreateShared.push(shr.create);
      lat.cpMigShared.push(shr.migrate);
      const d = await direct.createMigrateQuit(`qbd-${i}`);
      lat.dCreate.push(d.create);
      lat.dMig.push(d.migrate);
      lat.dSourceQuit.push(d.sourceQuit);
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
    console.log(
      `\n  ratio control plane p50 / direct p50: create ${(r.cpCreateShared.p50 / r.dCreate.p50).toFixed(2)}` +
        ` (separate storage ${(r.cpCreateSep.p50 / r.dCreate.p50).toFixed(2)}),` +
        ` live migrate, shared storage ${(r.cpMigShared.p50 / r.dMig.p50).toFixed(2)}` +
        ` (NBD disk copy, not like for like: ${(r.cpMigNbd.p50 / r.dMig.p50).toFixed(2)})`,
    );
    console.log(
      '  the control-plane migration also ends the source QEMU before it reports success; the direct row does not',
    );
  } finally {
    direct.closeClients();
    await cp.stop().catch((err: unknown) => console.error('qemu section: control plane stop failed:', err));
    await killQemusUnder(root);
    cp.removeSocketDirs();
    await wipe(opts.redisUrl, opts.prefix).catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  }
}

interface Timings {
  create: number;
  migrate: number;
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
  async createMigrateDelete(name: string, source: string, target: string): Promise<Timings> {
    let t = performance.now();
    const created = await this.request('POST', '/v1/vms', {
      name,
      vcpus: 1,
      memoryMiB: MEMORY_MIB,
      diskGiB: DISK_GIB,
      hostId: source,
    });
    const vmId = String(created.vmId);
    this.vmIds.push(vmId);
    await this.waitOperation(String(created.operationId), `create ${name}`);
    const create = performance.now() - t;
    await this.expectRunningOn(vmId, source);

    t = performance.now();
    const mig = await this.request('POST', `/v1/vms/${vmId}/migrations`, { targetHostId: target, live: true });
    await this.waitOperation(String(mig.operationId), `migrate ${name} ${source}→${target}`);
    const migrate = performance.now() - t;
    await this.expectRunningOn(vmId, target);

    const del = await this.request('DELETE', `/v1/vms/${vmId}`);
    await this.waitOperation(String(del.operationId), `delete ${name}`);
    return { create, migrate };
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

interface RunFiles {
  qmp: string;
  serial: string;
  serialLog: string;
  pidFile: string;
  log: string;
}

/** The minimal script: qemu-img, spawn, QMP (the project's QmpClient, no other driver code in the timed path). */
class DirectQemu {
  private readonly clients = new Set<QmpClient>();

  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  /**
   * The same argv as src/drivers/qemu/qemu-args.ts, written out here so the baseline does not run
   * the code under test; compared once against the driver's builder so the two cannot drift apart.
   */
  args(vmId: string, disk: string, run: RunFiles, incoming: boolean): string[] {
    const h = createHash('sha256').update(vmId).digest();
    const mac = ['52', '54', '00', ...[h[0]!, h[1]!, h[2]!].map((b) => b.toString(16).padStart(2, '0'))].join(':');
    // prettier-ignore
    const args = [
      '-name', vmId,
      '-no-user-config',
      '-nodefaults',
      '-display', 'none',
      '-machine', 'pc',
      '-accel', 'tcg',
      '-m', String(MEMORY_MIB),
      '-smp', '1',
      '-drive', `file=${disk},format=qcow2,if=virtio,node-name=disk0,cache=writeback`,
      '-netdev', 'user,id=n0',
      '-device', `virtio-net-pci,netdev=n0,mac=${mac}`,
      '-qmp', `unix:${run.qmp},server=on,wait=off`,
      '-chardev', `socket,id=serial0,path=${run.serial},server=on,wait=off,logfile=${run.serialLog},logappend=off`,
      '-serial', 'chardev:serial0',
      '-pidfile', run.pidFile,
    ];
    if (incoming) args.push('-incoming', 'defer');
    return args;
  }

  checkArgsMatchDriver(): string {
    const run = this.runFiles('check', 'a');
    for (const incoming of [false, true]) {
      const mine = this.args('check', '/d/disk.qcow2', run, incoming);
      const driver = qemuArgs({
        vmId: 'check',
        accel: 'tcg',
        memoryMiB: MEMORY_MIB,
        vcpus: 1,
        disk: '/d/disk.qcow2',
        pidFile: run.pidFile,
        qmpSocket: run.qmp,
        serialSocket: run.serial,
        serialLog: run.serialLog,
        incoming,
      });
      if (JSON.stringify(mine) !== JSON.stringify(driver)) {
        console.warn(
          `qemu section: WARNING: the direct argv differs from the driver's:\n  direct ${mine.join(' ')}\n  driver ${driver.join(' ')}`,
        );
        return 'argv DIFFERS from the driver, see warning';
      }
    }
    return "argv checked equal to the driver's qemuArgs()";
  }

  async createMigrateQuit(vmId: string): Promise<Timings & { sourceQuit: number }> {
    const vmDir = join(this.dir, vmId);
    const disk = join(vmDir, 'disk.qcow2');
    const src = this.runFiles(vmId, 'a');
    const tgt = this.runFiles(vmId, 'b');
    mkdirSync(join(vmDir, 'run-a'), { recursive: true });
    mkdirSync(join(vmDir, 'run-b'), { recursive: true });

    // create → running: disk, process, QMP, query-status running.
    let t = performance.now();
    const part = `${disk}.part`;
    const img = spawnSync(QEMU_IMG, ['create', '-q', '-f', 'qcow2', part, String(DISK_BYTES)], { encoding: 'utf8' });
    if (img.status !== 0) throw new Error(`qemu-img create failed: ${img.stderr}`);
    renameSync(part, disk);
    const srcPid = this.spawnQemu(this.args(vmId, disk, src, false), src.log);
    const sq = await this.connect(src, srcPid);
    await this.waitStatus(sq, 'running');
    const create = performance.now() - t;

    // live migration over shared storage: the target opens the same disk.
    t = performance.now();
    const tgtPid = this.spawnQemu(this.args(vmId, disk, tgt, true), tgt.log);
    const tq = await this.connect(tgt, tgtPid);
    await tq.execute('migrate-incoming', { uri: 'tcp:127.0.0.1:0' });
    const port = Number((await tq.execute<QmpMigrationInfo>('query-migrate'))['socket-address']?.[0]?.port);
    if (!Number.isInteger(port) || port <= 0) throw new Error('target QEMU did not report its incoming port');
    await sq.execute('migrate-set-parameters', { 'max-bandwidth': MIGRATION_BANDWIDTH });
    await sq.execute('migrate', { uri: `tcp:127.0.0.1:${port}` });
    for (;;) {
      const info = await sq.execute<QmpMigrationInfo>('query-migrate');
      if (info.status === 'completed') break;
      if (info.status === 'failed' || info.status === 'cancelled') {
        throw new Error(`direct migration ${info.status}: ${info['error-desc'] ?? 'no reason given'}`);
      }
      await sleep(POLL_MS);
    }
    await this.waitStatus(tq, 'running');
    const migrate = performance.now() - t;

    t = performance.now();
    await this.quit(sq, srcPid, src.pidFile);
    const sourceQuit = performance.now() - t;
    await this.quit(tq, tgtPid, tgt.pidFile);
    rmSync(vmDir, { recursive: true, force: true });
    return { create, migrate, sourceQuit };
  }

  closeClients(): void {
    for (const c of this.clients) c.close();
    this.clients.clear();
  }

  private runFiles(vmId: string, side: string): RunFiles {
    const run = join(this.dir, vmId, `run-${side}`);
    return {
      qmp: join(run, 'qmp.sock'),
      serial: join(run, 'serial.sock'),
      serialLog: join(run, 'serial.log'),
      pidFile: join(run, 'qemu.pid'),
      log: join(run, 'qemu.log'),
    };
  }

  /** Detached with output to a log, as the driver spawns it. */
  private spawnQemu(args: string[], logPath: string): number {
    const log = openSync(logPath, 'w');
    try {
      const child = spawn(QEMU, args, { detached: true, stdio: ['ignore', log, log] });
      child.on('error', () => undefined);
      child.unref();
      if (child.pid === undefined) throw new Error(`cannot spawn ${QEMU}`);
      return child.pid;
    } finally {
      closeSync(log);
    }
  }

  private async connect(run: RunFiles, pid: number): Promise<QmpClient> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        const c = await QmpClient.connect(run.qmp, { connectTimeoutMs: 300, commandTimeoutMs: 10_000 });
        this.clients.add(c);
        return c;
      } catch (err) {
        if (!alive(pid)) throw new Error(`direct QEMU exited during start: ${tail(run.log)}`, { cause: err });
        if (Date.now() > deadline) throw err;
        await sleep(POLL_MS);
      }
    }
  }

  private async waitStatus(c: QmpClient, want: string): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const s = await c.execute<QmpStatusInfo>('query-status');
      if (s.status === want) return;
      if (Date.now() > deadline) throw new Error(`direct QEMU status ${s.status}, waited for ${want}`);
      await sleep(POLL_MS);
    }
  }

  private async quit(c: QmpClient, pid: number, pidFile: string): Promise<void> {
    await c.execute('quit', undefined, { timeoutMs: 3_000 }).catch(() => undefined);
    c.close();
    this.clients.delete(c);
    if (!(await waitGone(pid, pidFile, 10_000))) {
      signal(pid, 'SIGKILL');
      await waitGone(pid, pidFile, 5_000);
    }
  }
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.charAt(stat.lastIndexOf(')') + 2);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Gone, or the pid now belongs to something that is not this QEMU. */
async function waitGone(pid: number, pidFile: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (alive(pid) && cmdline(pid).includes(pidFile)) {
    if (Date.now() > deadline) return false;
    await sleep(POLL_MS);
  }
  return true;
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** Every QEMU this section started (driver-spawned or direct) has a path under `root` on its command line. */
async function killQemusUnder(root: string): Promise<void> {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmd = cmdline(Number(entry));
    if (cmd.startsWith(QEMU) || cmd.includes(`/${QEMU}\0`)) {
      if (cmd.split('\0').some((a) => a.includes(`${root}/`))) pids.push(Number(entry));
    }
  }
  for (const pid of pids) signal(pid, 'SIGKILL');
  const deadline = Date.now() + 5_000;
  while (pids.some(alive) && Date.now() < deadline) await sleep(POLL_MS);
  if (pids.length) console.error(`qemu section: killed ${pids.length} leftover QEMU process(es): ${pids.join(', ')}`);
}

function tail(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim().slice(-600) || 'no output';
  } catch {
    return 'no log';
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

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
