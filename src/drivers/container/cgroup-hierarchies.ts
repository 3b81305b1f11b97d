import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/** The controllers a container uses; anything else in a hierarchy is left alone. */
export const CONTROLLERS = ['memory', 'cpu', 'pids', 'freezer'] as const;
export type Controller = (typeof CONTROLLERS)[number];

/** One mounted cgroup hierarchy, and where this host's containers go in it. */
export interface Hierarchy {
  version: 1 | 2;
  mount: string;
  /** v1: the controllers bound to it; v2: those its root offers (`cgroup.controllers`). */
  controllers: Controller[];
  /** Absolute dir under which `<hostKey>/<vmId>` cgroups are made. */
  base: string;
}

/**
 * Finds every cgroup hierarchy from /proc/self/mountinfo instead of assuming a layout: pure v2
 * (`/sys/fs/cgroup` is cgroup2), hybrid (v1 controllers plus cgroup2 at `/sys/fs/cgroup/unified`,
 * as on the CI machines) or pure v1 all occur, and inside a container the mounts show only a
 * subtree (`root` field of mountinfo), which the worker's own path is made relative to.
 */
export function detectHierarchies(cgroupParent?: string, procSelf = '/proc/self'): Hierarchy[] {
  const own = ownCgroups(procSelf);
  const seen = new Set<string>();
  const found: Hierarchy[] = [];
  for (const line of readText(join(procSelf, 'mountinfo')).split('\n')) {
    const fields = line.split(' ');
    const sep = fields.indexOf('-');
    if (sep < 0) continue;
    const fstype = fields[sep + 1];
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    const root = unescapeMount(fields[3] ?? '/');
    const mount = unescapeMount(fields[4] ?? '');
    const superOpts = (fields[sep + 3] ?? '').split(',');
    const version = fstype === 'cgroup2' ? 2 : 1;
    const controllers =
      version === 1
        ? CONTROLLERS.filter((c) => superOpts.includes(c))
        : v2Controllers(join(mount, 'cgroup.controllers'));
    // A v1 hierarchy with none of our controllers (name=systemd, blkio, …) is of no use.
    if (version === 1 && controllers.length === 0) continue;
    const key = version === 2 ? 'v2' : controllers.join(',');
    if (seen.has(key)) continue; // the same hierarchy mounted twice
    seen.add(key);
    const ownPath = version === 2 ? own.get('') : controllers.map((c) => own.get(c)).find((p) => p !== undefined);
    const base = cgroupParent
      ? join(mount, cgroupParent)
      : join(mount, relativeInside(root, ownPath ?? '/'), 'virtledger');
    found.push({ version, mount, controllers, base });
  }
  return found;
}

/** Controller name ('' for the v2 line) → the worker's own cgroup path, from /proc/self/cgroup. */
function ownCgroups(procSelf: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of readText(join(procSelf, 'cgroup')).split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    const [, id, ctrls, path] = m as unknown as [string, string, string, string];
    if (id === '0' && ctrls === '') map.set('', path);
    for (const c of ctrls.split(',')) if (c) map.set(c, path);
  }
  return map;
}

/** The worker's path relative to what the mount shows (a nested container sees only its subtree). */
function relativeInside(mountRoot: string, ownPath: string): string {
  if (mountRoot === '/') return ownPath;
  const rel = relative(mountRoot, ownPath);
  return rel.startsWith('..') ? '/' : `/${rel}`;
}

function v2Controllers(file: string): Controller[] {
  const offered = readText(file).trim().split(/\s+/);
  return CONTROLLERS.filter((c) => c !== 'freezer' && offered.includes(c));
}

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** Whether this machine can freeze a cgroup at all (v2 `cgroup.freeze` or the v1 freezer), without creating one. */
export function canFreeze(hierarchies: Hierarchy[]): boolean {
  return hierarchies.some(
    (h) => (h.version === 1 && h.controllers.includes('freezer')) || (h.version === 2 && v2FreezeSupported(h.mount)),
  );
}

/** `cgroup.freeze` exists only in non-root v2 cgroups (Linux ≥ 5.2): look for it in any child of the mount. */
function v2FreezeSupported(mount: string): boolean {
  if (existsSync(join(mount, 'cgroup.freeze'))) return true;
  // The root never has the file; the kernel offers it when cgroup.stat counts descendants' freezing.
  return readText(join(mount, 'cgroup.stat')).includes('nr_descendants') && kernelAtLeast(5, 2);
}

function kernelAtLeast(major: number, minor: number): boolean {
  const m = /^(\d+)\.(\d+)/.exec(readText('/proc/sys/kernel/osrelease'));
  if (!m) return false;
  const [maj, min] = [Number(m[1]), Number(m[2])];
  return maj > major || (maj === major && min >= minor);
}
