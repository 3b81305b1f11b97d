import { execFileSync, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { VmSpec } from '../../../src/drivers/hypervisor-driver.port.js';
import { LibvirtDriver } from '../../../src/drivers/libvirt/libvirt.driver.js';
import { after, before } from 'node:test';
import { ensureGuest } from '../qemu/guest-console.js';
import { repoRoot, sleep } from '../qemu/qemu-test-env.js';
import { waitFor as waitForCondition } from '../../support/wait.js';

export { repoRoot, sleep };

/** The daemons the real tests talk to: from .ci/services/libvirt.sh, started by CI or by the test file. */
export interface LibvirtDaemons {
  uri: string;
  peerUri?: string;
  /** Pid of the peer's namespace (nsenter target), when it runs. */
  peerPid?: number;
  /** Stops what this test file started (nothing when CI started it). */
  stop(): void;
}

export function hasVirsh(): boolean {
  return spawnSync('virsh', ['--version']).status === 0;
}

/** Why the real libvirt tests cannot run here, or undefined. */
export function libvirtSkipReason(): string | undefined {
  if (!hasVirsh()) return 'virsh not installed (libvirt-clients)';
  if (process.env.VL_LIBVIRT_URI) return undefined;
  if (process.getuid?.() !== 0) return 'starting libvirtd needs root (or set VL_LIBVIRT_URI)';
  if (spawnSync('sh', ['-c', 'command -v libvirtd']).status !== 0) return 'libvirtd not installed';
  if (spawnSync('qemu-system-x86_64', ['--version']).status !== 0) return 'qemu-system-x86_64 not installed';
  return undefined;
}

/**
 * The env exported by .ci/services/libvirt.sh when CI ran it; otherwise runs that script now
 * (same daemons, same way) and remembers to stop them.
 */
export function ensureDaemons(): LibvirtDaemons {
  if (process.env.VL_LIBVIRT_URI) {
    return {
      uri: process.env.VL_LIBVIRT_URI,
      peerUri: process.env.VL_LIBVIRT_PEER_URI,
      peerPid: process.env.VL_LIBVIRT_PEER_PID ? Number(process.env.VL_LIBVIRT_PEER_PID) : undefined,
      stop: () => undefined,
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'vl-libvirtd-'));
  const script = join(repoRoot(), '.ci', 'services', 'libvirt.sh');
  const out = execFileSync('bash', [script, 'start', dir], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 60_000,
  });
  const env = Object.fromEntries([...out.matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!] as const));
  return {
    uri: env.VL_LIBVIRT_URI ?? 'qemu:///system',
    peerUri: env.VL_LIBVIRT_PEER_URI,
    peerPid: env.VL_LIBVIRT_PEER_PID ? Number(env.VL_LIBVIRT_PEER_PID) : undefined,
    stop: () => {
      execFileSync('bash', [script, 'stop', dir], { stdio: 'ignore', timeout: 120_000 });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * One temp root per test file, searchable by libvirt's QEMU user (0711). cleanup() destroys and
 * undefines every domain that names a file under the root, on every URI the file used.
 */
export class LibvirtTestEnv {
  readonly root: string;
  private readonly drivers: LibvirtDriver[] = [];

  constructor(prefix = 'vl-libvirt-') {
    this.root = mkdtempSync(join(tmpdir(), prefix));
    chmodSync(this.root, 0o711);
  }

  driver(hostId: string, uri: string, params: Record<string, string> = {}): LibvirtDriver {
    const query = new URLSearchParams({ stopTimeoutMs: '20000', ...params }).toString();
    const storageDir = join(this.root, `storage-${hostId}`);
    const d = new LibvirtDriver({ id: hostId, driver: 'libvirt', uri: `${uri}?${query}`, storageDir });
    this.drivers.push(d);
    return d;
  }

  /** `uris`: daemons the file used without a driver of this env (e.g. through the app's workers). */
  async cleanup(uris: string[] = []): Promise<void> {
    const all = new Set([...uris, ...this.drivers.map((d) => d.uri)]);
    for (const d of this.drivers) await d.close();
    for (const uri of all) {
      if (uri.startsWith('test:')) continue;
      await removeDomainsUnder(uri, this.root);
    }
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** Destroys and undefines the domains of `uri` whose XML names a path under `root`. */
export async function removeDomainsUnder(uri: string, root: string): Promise<void> {
  let names: string[];
  try {
    names = virshSync(uri, ['list', '--all', '--name'])
      .split('\n')
      .map((s) => s.trim())
      .filter(Boolean);
  } catch {
    return; // the daemon is gone: nothing left to remove there
  }
  for (const name of names) {
    let xml: string;
    try {
      xml = virshSync(uri, ['dumpxml', name]);
    } catch {
      continue;
    }
    if (!xml.includes(`${root}/`)) continue;
    spawnSync('virsh', ['-q', '-c', uri, 'destroy', name], { timeout: 60_000 });
    spawnSync('virsh', ['-q', '-c', uri, 'undefine', name, '--snapshots-metadata', '--managed-save'], {
      timeout: 60_000,
    });
  }
}

export function virshSync(uri: string, args: string[]): string {
  return execFileSync('virsh', ['-q', '-c', uri, ...args], { encoding: 'utf8', stdio: 'pipe', timeout: 60_000 });
}

export function vmSpec(overrides: Partial<VmSpec> = {}): VmSpec {
  const id = overrides.id ?? `vm-${randomUUID().slice(0, 8)}`;
  return { id, name: id, vcpus: 1, memoryMiB: 128, diskGiB: 1, ...overrides };
}

/** Pids of the QEMU processes libvirt runs for a domain (`-name guest=<name>,…`), whichever daemon started them. */
export function qemuPidsOf(domainName: string): number[] {
  const pids: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const argv = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      if (argv[0]?.includes('qemu-system') && argv.includes(`guest=${domainName},debug-threads=on`))
        pids.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** Polls until `read()` is truthy. */
export async function waitFor<T>(what: string, read: () => Promise<T> | T, timeoutMs: number): Promise<T> {
  return waitForCondition(read, { what, timeoutMs, intervalMs: 100 });
}

/** What a libvirt suite works with, ready once its `before` ran. */
export interface LibvirtSuite {
  readonly daemons: LibvirtDaemons;
  readonly env: LibvirtTestEnv;
  readonly d: LibvirtDriver;
  /** The test guest's image name (when the suite asked for the guest). */
  readonly image: string;
}

/**
 * The setup every libvirt driver suite shares, called inside its `describe`: the daemons, a temp
 * env and one driver for `hostId` (with the test guest's images when `guest`), all cleaned up after.
 */
export function libvirtSuite(hostId: string, opts: { guest?: boolean } = {}): LibvirtSuite {
  const state: { daemons?: LibvirtDaemons; env?: LibvirtTestEnv; d?: LibvirtDriver; image?: string } = {};
  before(() => {
    state.daemons = ensureDaemons();
    state.env = new LibvirtTestEnv();
    if (opts.guest) {
      const guest = ensureGuest();
      state.d = state.env.driver(hostId, state.daemons.uri, { images: guest.imagesDir });
      state.image = guest.image;
    } else {
      state.d = state.env.driver(hostId, state.daemons.uri);
    }
  });
  after(async () => {
    await state.env?.cleanup();
    state.daemons?.stop();
  });
  const ready = <T>(v: T | undefined, what: string): T => {
    if (v === undefined) throw new Error(`libvirt suite: ${what} is set in before()`);
    return v;
  };
  return {
    get daemons() {
      return ready(state.daemons, 'daemons');
    },
    get env() {
      return ready(state.env, 'env');
    },
    get d() {
      return ready(state.d, 'the driver');
    },
    get image() {
      return ready(state.image, 'the guest image');
    },
  };
}
