import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { VmSpec } from '../../../src/drivers/hypervisor-driver.port.js';
import { detectHierarchies } from '../../../src/drivers/container/cgroup-hierarchies.js';
import { ContainerDriver } from '../../../src/drivers/container/container.driver.js';
import { buildRootfs } from '../../../src/drivers/container/rootfs.js';
import { tempDir } from '../../support/env.js';
import { waitFor } from '../../support/wait.js';

export const BUSYBOX = '/bin/busybox';

/** Why real containers cannot run here, or undefined when they can. */
export function containerSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (namespaces, cgroups, pivot_root)';
  if (!existsSync(BUSYBOX)) return `${BUSYBOX} missing (install busybox-static)`;
  try {
    execFileSync('unshare', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'unshare (util-linux) missing';
  }
  if (detectHierarchies().length === 0) return 'no cgroup hierarchy mounted';
  return undefined;
}

/**
 * One temp root per test file; every driver's storage lives under it. Host ids carry a random
 * suffix so cgroup dirs (`<base>/<hostId>/<vmId>`) never meet another run's; cleanup destroys
 * every container of every driver (killing its init and removing its cgroups) even after a
 * failed test, then removes the per-host cgroup dirs and the temp root.
 */
export class ContainerTestEnv {
  readonly root: string;
  private readonly removeRoot: () => void;
  private readonly drivers: ContainerDriver[] = [];
  private readonly hostIds = new Set<string>();

  constructor(prefix = 'vl-ct-') {
    const { dir, cleanup } = tempDir(prefix);
    this.root = dir;
    this.removeRoot = cleanup;
  }

  hostId(name: string): string {
    return `${name}-${randomUUID().slice(0, 6)}`;
  }

  /** A driver for host `hostId` (use hostId() for a fresh one) with storage `<root>/<storage>`. */
  driver(hostId: string, options: { storage?: string; params?: Record<string, string> } = {}): ContainerDriver {
    const storageDir = join(this.root, options.storage ?? `storage-${hostId}`);
    const query = new URLSearchParams({ images: join(this.root, 'images'), ...options.params }).toString();
    const driver = new ContainerDriver({ id: hostId, driver: 'container', uri: `container:///?${query}`, storageDir });
    this.drivers.push(driver);
    this.hostIds.add(hostId);
    return driver;
  }

  /** A root filesystem dir under `<root>/images/<name>` from busybox, whose /sbin/init is `init`. */
  async image(name: string, init: string): Promise<string> {
    const dir = join(this.root, 'images', name);
    await buildRootfs({ kind: 'busybox' }, dir, BUSYBOX);
    writeFileSync(join(dir, 'sbin', 'init'), init, { mode: 0o755 });
    return dir;
  }

  async cleanup(): Promise<void> {
    for (const d of this.drivers) {
      for (const dom of await d.listDomains()) {
        if (!dom.managed) continue;
        await d.destroy(vmSpec({ id: dom.vmId })).catch(() => undefined);
      }
    }
    for (const id of this.hostIds) await removeHostCgroups(id);
    this.removeRoot();
  }
}

/**
 * Kills every process in the host's container cgroups (`<base>/<hostKey>/<vmId>` in every
 * hierarchy) and removes those dirs: the cleanup of last resort, which works even when the
 * storage dir (and with it the driver's run records) is already gone.
 */
export async function removeHostCgroups(hostKey: string): Promise<void> {
  const dirs: string[] = [];
  for (const h of detectHierarchies()) {
    const hostDir = join(h.base, hostKey);
    let children: string[];
    try {
      children = readdirSync(hostDir, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => join(hostDir, e.name));
    } catch {
      continue;
    }
    dirs.push(...children, hostDir);
    for (const dir of children) {
      if (h.version === 2 && existsSync(join(dir, 'cgroup.freeze'))) writeFileSync(join(dir, 'cgroup.freeze'), '0');
      if (h.version === 1 && existsSync(join(dir, 'freezer.state')))
        writeFileSync(join(dir, 'freezer.state'), 'THAWED');
      for (const pid of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  }
  for (const dir of dirs) {
    await eventually(() => {
      try {
        rmdirSync(dir);
        return true;
      } catch (err) {
        return (err as NodeJS.ErrnoException).code === 'ENOENT';
      }
    }, 5_000);
  }
}

export function vmSpec(overrides: Partial<VmSpec> = {}): VmSpec {
  const id = overrides.id ?? `ct-${randomUUID().slice(0, 8)}`;
  return { id, name: id, vcpus: 1, memoryMiB: 64, diskGiB: 1, ...overrides };
}

/** Runs a shell command inside every namespace of the container (root = its root filesystem). */
export function inside(pid: number, script: string): string {
  return execFileSync('nsenter', ['-t', String(pid), '-a', '/bin/sh', '-c', script], {
    encoding: 'utf8',
    timeout: 10_000,
  });
}

/**
 * Runs a shell command as the container's own processes run (`runc exec`: its user namespace,
 * capabilities, no_new_privs and seccomp filter), unlike inside(), which enters as host root.
 * Never throws on a failing command: the exit status is part of what a test asserts.
 */
export function confined(driver: ContainerDriver, vmId: string, script: string): { status: number; out: string } {
  const r = spawnSync('runc', ['--root', driver.runcRoot, 'exec', vmId, '/bin/sh', '-c', `exec 2>&1; ${script}`], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

export function readCgroupFile(dir: string, file: string): string {
  return readFileSync(join(dir, file), 'utf8').trim();
}

/**
 * Runs the containers' ticker loop (busybox sh, one tick per `usleep 20000`) on the host until it
 * has ticked `n` times. "Nothing happened meanwhile" checks wait for this yardstick rather than
 * for a time: a loaded machine slows it as much as the container's ticker it stands beside.
 */
export async function controlTicks(n: number): Promise<void> {
  const { dir, cleanup } = tempDir('vl-ticks-');
  const file = join(dir, 'ticks');
  const child = spawn(
    BUSYBOX,
    ['sh', '-c', 'i=0; while :; do i=$((i+1)); echo $i > "$1"; "$2" usleep 20000; done', 'ticker', file, BUSYBOX],
    { stdio: 'ignore' },
  );
  const exited = new Promise((r) => child.once('exit', r));
  try {
    await waitFor(() => existsSync(file) && Number(readFileSync(file, 'utf8').trim() || 0) >= n, {
      what: `a host-side control ticker to tick ${n} times`,
      timeoutMs: 60_000,
    });
  } finally {
    child.kill('SIGKILL');
    await exited;
    cleanup();
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `fn` until it returns true or the deadline passes; returns the last result. */
export async function eventually(fn: () => boolean, timeoutMs = 5_000): Promise<boolean> {
  // The one poll loop (test/support/wait.ts); a caller that asserts on the result wants false, not a throw.
  return waitFor(fn, { what: 'the condition', timeoutMs, intervalMs: 20 }).catch(() => false);
}
