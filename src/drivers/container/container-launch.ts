import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { DriverError } from '../hypervisor-driver.port.js';
import { procStat, isSameLiveProcess } from './proc-stat.js';

/**
 * Runs as the first process of the new PID/mount/UTS/IPC/net namespaces (PID 1 there), with the
 * host's busybox, before it becomes the container's init: join the cgroups (writing 0 to
 * cgroup.procs moves the writer itself, so every later process is inside before anything of the
 * image runs), report its host pid (reading /proc/self of the host's /proc gives the host pid),
 * set the hostname, mount /proc and a minimal /dev, bring lo up, pivot_root into the root
 * filesystem, drop the old root and exec the image's /sbin/init under the same pid.
 */
const SETUP_SCRIPT = `set -e
bb=$1; root=$2; name=$3; pidfile=$4; shift 4
for f in "$@"; do echo 0 > "$f"; done
read -r pid rest < /proc/self/stat
echo "$pid" > "$pidfile.tmp"
"$bb" mv -f "$pidfile.tmp" "$pidfile"
"$bb" hostname "$name"
"$bb" mount --bind "$root" "$root"
"$bb" mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
"$bb" mount -t tmpfs -o mode=755,size=256k,nosuid,noexec dev "$root/dev"
"$bb" mknod -m 666 "$root/dev/null" c 1 3
"$bb" mknod -m 666 "$root/dev/zero" c 1 5
"$bb" mknod -m 666 "$root/dev/full" c 1 7
"$bb" mknod -m 666 "$root/dev/random" c 1 8
"$bb" mknod -m 666 "$root/dev/urandom" c 1 9
"$bb" mknod -m 666 "$root/dev/tty" c 5 0
"$bb" ln -s /proc/self/fd "$root/dev/fd"
"$bb" ip link set lo up
cd "$root"
"$bb" pivot_root . .oldroot
cd /
"/.oldroot$bb" umount -l /.oldroot
unset OLDPWD
exec /sbin/init
`;

/** The init sees this environment and nothing of the worker's (tokens, URLs). */
const CONTAINER_ENV = { PATH: '/bin:/sbin:/usr/bin:/usr/sbin', HOME: '/root', TERM: 'linux', container: 'virtledger' };

export interface LaunchOptions {
  busybox: string;
  rootfs: string;
  hostname: string;
  pidFile: string;
  consoleLog: string;
  procsFiles: string[];
  startGraceMs: number;
  signal?: AbortSignal;
}

export interface LaunchedInit {
  /** Host pid of the container's PID 1. */
  pid: number;
  startTime: string;
}

const PID_WAIT_MS = 10_000;

/**
 * Starts the container detached (own session and process group, stdio to the console log, not
 * waited for), so it outlives the worker: a worker restart finds it again by pid + start time.
 * Resolves once its init has stayed alive for `startGraceMs`; an init that dies before that is a
 * failed start whose message carries the console output.
 */
export async function launchContainer(o: LaunchOptions): Promise<LaunchedInit> {
  const out = openSync(o.consoleLog, 'a');
  let exit: string | undefined;
  try {
    const child = spawn(
      'unshare',
      [
        '--fork',
        '--pid',
        '--mount',
        '--uts',
        '--ipc',
        '--net',
        '--propagation',
        'private',
        o.busybox,
        'sh',
        '-c',
        SETUP_SCRIPT,
        'vl-container-setup',
        o.busybox,
        o.rootfs,
        o.hostname,
        o.pidFile,
        ...o.procsFiles,
      ],
      { detached: true, stdio: ['ignore', out, out], env: CONTAINER_ENV },
    );
    child.on('error', (err) => (exit = `could not run unshare: ${err.message}`));
    child.on('exit', (code, sig) => (exit = sig ? `killed by ${sig}` : `exit code ${code}`));
    child.unref();
  } finally {
    closeSync(out);
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
  if (!st) throw startFailure(o, exit ?? 'init gone right after start');
  await sleep(o.startGraceMs);
  if (!isSameLiveProcess(pid, st.startTime)) {
    await waitFor(() => exit !== undefined, 1_000);
    throw startFailure(o, exit ?? 'init exited');
  }
  return { pid, startTime: st.startTime };
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
