import { spawn } from 'node:child_process';
import { closeSync, constants, lstatSync, openSync, readFileSync, rmSync } from 'node:fs';
import { runTool } from '../kit/run-tool.js';
import { DriverError } from '../hypervisor-driver.port.js';
import { procStat, isSameLiveProcess } from './proc-stat.js';

export interface LaunchOptions {
  /** runc's state dir (`--root`): one per host, so two hosts on one machine never share names. */
  runcRoot: string;
  /** The container's name for runc: the VM id. */
  id: string;
  /** The bundle: holds config.json (written by the caller). */
  bundle: string;
  pidFile: string;
  consoleLog: string;
  /** The FIFO the init reads as stdin (made here): what the console types. */
  consoleIn: string;
  startGraceMs: number;
  signal?: AbortSignal;
}

/** runc's own environment: enough to find its tools, nothing of the worker's (tokens, URLs). */
const RUNC_ENV = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' };

export interface LaunchedInit {
  /** Host pid of the container's PID 1. */
  pid: number;
  startTime: string;
}

const PID_WAIT_MS = 10_000;
const EXIT_WAIT_MS = 5_000;

/**
 * Starts the container under runc, detached from the worker (own session, stdio to the console
 * log), so it outlives the worker: a worker restart finds it again by pid + start time.
 * Resolves once its init has stayed alive for `startGraceMs`; an init that dies before that is a
 * failed start whose message carries the console output.
 */
export async function launchContainer(o: LaunchOptions): Promise<LaunchedInit> {
  const stdin = await openConsoleFifo(o.consoleIn);
  let out: number;
  try {
    out = openSync(o.consoleLog, 'a');
  } catch (err) {
    closeSync(stdin);
    throw err;
  }
  let exit: string | undefined;
  try {
    // `runc run` in the foreground (its own session, not waited for): it stays the init's parent,
    // copies its output to the console log and exits with the init's status, which a failed start
    // reports; when the init dies it removes the container's state and cgroups.
    const child = spawn('runc', ['--root', o.runcRoot, 'run', '--bundle', o.bundle, '--pid-file', o.pidFile, o.id], {
      detached: true,
      stdio: [stdin, out, out],
      env: RUNC_ENV,
    });
    child.on('error', (err) => (exit = `could not run runc: ${err.message}`));
    child.on('exit', (code, sig) => (exit = sig ? `killed by ${sig}` : `exit code ${code}`));
    child.unref();
  } finally {
    closeSync(out);
    closeSync(stdin);
  }

  const deadline = Date.now() + PID_WAIT_MS;
  let pid: number | undefined;
  while (pid === undefined) {
    pid = readPidFile(o.pidFile);
    if (pid !== undefined) break;
    if (exit !== undefined) throw startFailure(o, exit);
    if (o.signal?.aborted) throw new DriverError('failed', 'start aborted before the container reported its pid');
    if (Date.now() >= deadline) {
      throw new DriverError('timeout', `the container did not report its pid within ${PID_WAIT_MS} ms`);
    }
    await sleep(10);
  }
  const st = procStat(pid);
  // runc reports the init's exit status once it has cleaned up after it: wait for it (bounded),
  // since the status is what tells an operator why.
  if (!st) {
    await waitFor(() => exit !== undefined, EXIT_WAIT_MS);
    throw startFailure(o, exit ?? 'init gone right after start');
  }
  await sleep(o.startGraceMs);
  if (!isSameLiveProcess(pid, st.startTime)) {
    await waitFor(() => exit !== undefined, EXIT_WAIT_MS);
    throw startFailure(o, exit ?? 'init exited');
  }
  return { pid, startTime: st.startTime };
}

/**
 * The init's stdin: a FIFO opened read-write, so it never reads end-of-file while no console is
 * attached (the container holds a writer itself) and a worker restart does not disturb it.
 * The console writes into it (kit/console-streams.ts); an init that never reads stdin just
 * leaves the bytes in the pipe.
 */
async function openConsoleFifo(path: string): Promise<number> {
  rmSync(path, { force: true });
  await runTool('mkfifo', ['-m', '0600', path], { timeoutMs: 10_000 });
  if (!lstatSync(path).isFIFO()) throw new DriverError('failed', `${path} is not a FIFO`);
  return openSync(path, constants.O_RDWR | constants.O_NOCTTY);
}

function startFailure(o: LaunchOptions, how: string): DriverError {
  return new DriverError('failed', `container init exited at once (${how}); console: ${consoleTail(o.consoleLog)}`);
}

/** The last lines of the console log: what an operator reads to see why a container died. */
export function consoleTail(path: string, maxChars = 2_000): string {
  try {
    const text = readFileSync(path, 'utf8').trimEnd();
    return text.length > maxChars ? `…${text.slice(-maxChars)}` : text || '(empty)';
  } catch {
    return '(no console log)';
  }
}

export function readPidFile(path: string): number | undefined {
  try {
    const n = Number(readFileSync(path, 'utf8').trim());
    return Number.isSafeInteger(n) && n > 1 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** Host names are what `hostname` inside shows: the VM's name made DNS-safe, else its id. */
export function hostnameFor(name: string, vmId: string): string {
  const h = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/, '');
  return h || vmId.toLowerCase().slice(0, 63);
}

async function waitFor(done: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done() && Date.now() < deadline) await sleep(10);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Removes runc's record of a container whose init is gone (or kills it first with --force): a
 * `runc run` killed with its init leaves the record, and the next run of that id would be refused.
 */
export async function runcDelete(runcRoot: string, id: string): Promise<void> {
  await runTool('runc', ['--root', runcRoot, 'delete', '--force', id], { timeoutMs: 10_000 }).catch(() => undefined);
}

/** runc's own view of a host's containers (`runc list`): ids and status, for reconciliation. */
export async function runcList(runcRoot: string): Promise<{ id: string; status: string; pid: number }[]> {
  const out = await runTool('runc', ['--root', runcRoot, 'list', '--format', 'json'], { timeoutMs: 10_000 });
  const parsed = JSON.parse(out.trim() || 'null') as { id: string; status: string; pid: number }[] | null;
  return parsed ?? [];
}
