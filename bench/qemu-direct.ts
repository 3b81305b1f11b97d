import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { qemuArgs } from '../src/drivers/qemu/qemu-args.js';
import { MEMORY_SLOTS } from '../src/drivers/qemu/qemu-hotplug-layout.js';
import { defaultCeilings } from '../src/domain/vm/vm.types.js';
import { QmpClient } from '../src/drivers/qemu/qmp.client.js';
import type { QmpMigrationInfo, QmpStatusInfo } from '../src/drivers/qemu/qmp.types.js';
import type { PhaseMark } from '../src/drivers/kit/phase-trace.js';
import { cpuMs, type PhaseRecorder } from './qemu-phases.js';

/**
 * The qemu section's baseline: create and live-migrate a VM with nothing but qemu-img, a spawn
 * and QMP, the way a minimal script would (bench/qemu.ts runs it beside the control plane).
 */

export const QEMU = 'qemu-system-x86_64';
export const QEMU_IMG = 'qemu-img';
export const MEMORY_MIB = 64;
export const DISK_GIB = 1;
const DISK_BYTES = DISK_GIB * 1024 ** 3;
/**
 * The room to grow the API gives a VM created without ceilings (4x: vm.types defaultCeilings),
 * as the control-plane rows' VMs get it: QEMU then starts with memory slots, maxmem and maxcpus,
 * which costs it several ms of start and migration. The direct VM is the same VM.
 */
const CEILINGS = defaultCeilings({ vcpus: 1, memoryMiB: MEMORY_MIB });
/** The driver's default `max-bandwidth` for migration (qemu-uri.ts), applied to the direct script too. */
const MIGRATION_BANDWIDTH = 8 * 1024 * 1024 * 1024;
export const POLL_MS = 10;

export interface Timings {
  create: number;
  migrate: number;
}

interface RunFiles {
  qmp: string;
  serial: string;
  serialLog: string;
  pidFile: string;
  log: string;
}

/** The minimal script: qemu-img, spawn, QMP (the project's QmpClient, no other driver code in the timed path). */
export class DirectQemu {
  private readonly clients = new Set<QmpClient>();

  constructor(
    private readonly dir: string,
    private readonly recorder: PhaseRecorder,
  ) {
    mkdirSync(dir, { recursive: true });
  }

  /**
   * The same argv as src/drivers/qemu/qemu-args.ts, written out here so the baseline does not run
   * the code under test; compared once against the driver's builder so the two cannot drift apart.
   * With the ceilings the control-plane VMs get (CEILINGS): before, the direct VM had none and
   * started several ms faster than the VM it is compared with.
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
      '-m', `${MEMORY_MIB}M,slots=${MEMORY_SLOTS},maxmem=${CEILINGS.maxMemoryMiB}M`,
      '-smp', `1,maxcpus=${CEILINGS.maxVcpus}`,
      '-drive', `file=${disk},format=qcow2,if=virtio,node-name=disk0,cache=writeback`,
      '-netdev', 'user,id=n0',
      '-device', `virtio-net-pci,netdev=n0,mac=${mac}`,
      '-qmp', `unix:${run.qmp},server=on,wait=off`,
      '-chardev', `socket,id=serial0,path=${run.serial},server=on,wait=off,logfile=${run.serialLog},logappend=off`,
      '-serial', 'chardev:serial0',
      '-pidfile', run.pidFile,
      '-global', `virtio-blk-pci.num-queues=${CEILINGS.maxVcpus}`,
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
        maxVcpus: CEILINGS.maxVcpus,
        maxMemoryMiB: CEILINGS.maxMemoryMiB,
        memorySlots: MEMORY_SLOTS,
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
    return `argv checked equal to the driver's qemuArgs(), ceilings maxVcpus ${CEILINGS.maxVcpus} maxMemoryMiB ${CEILINGS.maxMemoryMiB} as the API gives`;
  }

  async createMigrateQuit(
    vmId: string,
  ): Promise<Timings & { sourceQuit: number; cpu: Timings; phases: { create: PhaseMark[]; migrate: PhaseMark[] } }> {
    const vmDir = join(this.dir, vmId);
    const disk = join(vmDir, 'disk.qcow2');
    const src = this.runFiles(vmId, 'a');
    const tgt = this.runFiles(vmId, 'b');
    mkdirSync(join(vmDir, 'run-a'), { recursive: true });
    mkdirSync(join(vmDir, 'run-b'), { recursive: true });
    const mark = (phase: string) => this.recorder.mark(vmId, phase);

    // create → running: disk, process, QMP, query-status running.
    let cpu = process.cpuUsage();
    let t = performance.now();
    mark('start');
    const part = `${disk}.part`;
    const img = spawnSync(QEMU_IMG, ['create', '-q', '-f', 'qcow2', part, String(DISK_BYTES)], { encoding: 'utf8' });
    if (img.status !== 0) throw new Error(`qemu-img create failed: ${img.stderr}`);
    renameSync(part, disk);
    mark('qemu-img created the disk');
    const srcPid = this.spawnQemu(this.args(vmId, disk, src, false), src.log);
    mark('qemu spawned');
    const sq = await this.connect(src, srcPid);
    mark('QMP connected');
    await this.waitStatus(sq, 'running');
    mark('query-status running');
    let end = performance.now();
    const create = end - t;
    const createCpu = cpuMs(cpu);
    const createPhases = this.recorder.between(vmId, t, end);

    // live migration over shared storage: the target opens the same disk.
    cpu = process.cpuUsage();
    t = performance.now();
    mark('start');
    const tgtPid = this.spawnQemu(this.args(vmId, disk, tgt, true), tgt.log);
    mark('target spawned');
    const tq = await this.connect(tgt, tgtPid);
    mark('target QMP connected');
    await tq.execute('migrate-incoming', { uri: 'tcp:127.0.0.1:0' });
    const port = Number((await tq.execute<QmpMigrationInfo>('query-migrate'))['socket-address']?.[0]?.port);
    if (!Number.isInteger(port) || port <= 0) throw new Error('target QEMU did not report its incoming port');
    mark('target listening');
    await sq.execute('migrate-set-parameters', { 'max-bandwidth': MIGRATION_BANDWIDTH });
    await sq.execute('migrate', { uri: `tcp:127.0.0.1:${port}` });
    mark('source migrate sent');
    for (;;) {
      const info = await sq.execute<QmpMigrationInfo>('query-migrate');
      if (info.status === 'completed') break;
      if (info.status === 'failed' || info.status === 'cancelled') {
        throw new Error(`direct migration ${info.status}: ${info['error-desc'] ?? 'no reason given'}`);
      }
      await sleep(POLL_MS);
    }
    mark('source migration completed');
    await this.waitStatus(tq, 'running');
    mark('target query-status running');
    end = performance.now();
    const migrate = end - t;
    const migrateCpu = cpuMs(cpu);
    const migratePhases = this.recorder.between(vmId, t, end);

    t = performance.now();
    await this.quit(sq, srcPid, src.pidFile);
    const sourceQuit = performance.now() - t;
    await this.quit(tq, tgtPid, tgt.pidFile);
    rmSync(vmDir, { recursive: true, force: true });
    this.recorder.forget(vmId);
    return {
      create,
      migrate,
      sourceQuit,
      cpu: { create: createCpu, migrate: migrateCpu },
      phases: { create: createPhases, migrate: migratePhases },
    };
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
export async function killQemusUnder(root: string): Promise<void> {
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

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
