import { readdirSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { spawnDetached } from '../kit/spawn-detached.js';
import { spawnHelper, SpawnHelperLostError, type SpawnHelper } from '../kit/spawn-helper.js';

/**
 * Starts QEMU detached from Node (kit/spawn-detached.ts: own process group, output to the log
 * file, no shell), through the process's spawn helper (kit/spawn-helper.ts) so that this large
 * process is not forked. When the helper went away with the request, QEMU may already run: it
 * is looked for by its `-pidfile` (unique to the VM) before it is started here; a second QEMU
 * would only fail on the pidfile's lock. (If the helper died between its fork and QEMU's exec,
 * QEMU is not found yet and a second one is started: one of the two fails on that lock.)
 */
export async function spawnQemu(
  binary: string,
  args: string[],
  logPath: string,
  pidFile: string,
  helper: SpawnHelper = spawnHelper(),
): Promise<number> {
  try {
    return await helper.spawnDetached(binary, args, logPath);
  } catch (err) {
    if (!(err instanceof SpawnHelperLostError)) throw err;
    const started = listQemuProcesses().find((q) => isOurQemu(q.pid, pidFile));
    return started?.pid ?? spawnDetached(binary, args, logPath);
  }
}

/** argv of a live process; undefined when it is gone or a zombie (zombies have an empty cmdline). */
export function readCmdline(pid: number): string[] | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (!raw) return undefined;
    return raw.replace(/\0$/, '').split('\0');
  } catch {
    return undefined;
  }
}

/** The state letter of /proc/<pid>/stat (R, S, D, Z, X, …), or undefined when the pid is gone. */
function procState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.charAt(stat.lastIndexOf(')') + 2);
  } catch {
    return undefined;
  }
}

function isZombie(pid: number): boolean {
  const state = procState(pid);
  return state === undefined || state === 'Z' || state === 'X';
}

/**
 * Gone for good: no pid, or a zombie whose other threads have ended too. The leader of a
 * multi-threaded process can turn zombie while its other threads still run, and those keep the
 * shared file table, so the image locks, until the last one is done.
 */
function fullyExited(pid: number): boolean {
  if (!isZombie(pid)) return false;
  try {
    return readdirSync(`/proc/${pid}/task`).length <= 1;
  } catch {
    return true;
  }
}

/**
 * True until the process has fully exited. A dying process frees its memory (its cmdline reads
 * empty) before it closes its files, so for a moment it is no longer "our QEMU" yet still holds
 * the qcow2 lock; whoever reuses the disk must wait for this to turn false. A pid already reused
 * by another program (different cmdline) counts as gone.
 */
export function qemuStillExits(pid: number, pidFile: string): boolean {
  if (fullyExited(pid)) return false;
  const argv = readCmdline(pid);
  if (!argv) return true;
  const i = argv.indexOf('-pidfile');
  return i >= 0 && argv[i + 1] === pidFile;
}

/**
 * True when `pid` is alive and is the QEMU we launched with this pidfile: a pid alone can be
 * reused by an unrelated process after a host reboot or a long downtime.
 */
export function isOurQemu(pid: number, pidFile: string): boolean {
  const argv = readCmdline(pid);
  if (!argv || isZombie(pid)) return false;
  const i = argv.indexOf('-pidfile');
  return i >= 0 && argv[i + 1] === pidFile;
}

export interface QemuProcess {
  pid: number;
  argv: string[];
  /** The `-name` value (its `guest=` part when given as options), or undefined. */
  name?: string;
}

/** Every live qemu-system process on the host, ours or not. */
export function listQemuProcesses(): QemuProcess[] {
  const found: QemuProcess[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const argv = readCmdline(pid);
    if (!argv || !basename(argv[0] ?? '').startsWith('qemu-system')) continue;
    if (isZombie(pid)) continue;
    found.push({ pid, argv, name: nameOf(argv) });
  }
  return found;
}

function nameOf(argv: string[]): string | undefined {
  const i = argv.indexOf('-name');
  const value = i >= 0 ? argv[i + 1] : undefined;
  if (value === undefined) return undefined;
  const guest = /(?:^|,)guest=([^,]*)/.exec(value);
  return guest ? guest[1] : value.split(',')[0];
}

export function sendSignal(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/** Polls until `alive()` is false; resolves true if it ended within `timeoutMs`. */
/** `signal`: stop waiting when it aborts (answers false, as a timeout would). */
export async function waitUntilGone(
  alive: () => boolean,
  timeoutMs: number,
  pollMs = 50,
  signal?: AbortSignal,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (alive()) {
    if (Date.now() >= deadline || signal?.aborted) return false;
    await new Promise((r) => setTimeout(r, pollMs));
  }
  return true;
}
