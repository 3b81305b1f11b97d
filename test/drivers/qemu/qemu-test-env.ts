import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { VmSpec } from '../../../src/drivers/hypervisor-driver.port.js';
import { QemuDriver } from '../../../src/drivers/qemu/qemu.driver.js';
import { listQemuProcesses, sendSignal, waitUntilGone } from '../../../src/drivers/qemu/qemu-process.js';
import { tempDir } from '../../support/env.js';

/**
 * One temp root per test file; every driver, disk and socket of the file lives under it, so
 * `cleanup()` can find and SIGKILL exactly the QEMUs this file started (their argv names paths
 * under the root), even when a test failed half-way.
 */
export class QemuTestEnv {
  readonly root: string;
  private readonly removeRoot: () => void;
  private readonly drivers: QemuDriver[] = [];
  private readonly extraPids = new Set<number>();

  constructor(prefix = 'vl-qemu-') {
    const { dir, cleanup } = tempDir(prefix);
    this.root = dir;
    this.removeRoot = cleanup;
  }

  /** A driver for host `hostId` whose storage is `<root>/<storage>` (default: one per host). */
  driver(hostId: string, options: { storage?: string; params?: Record<string, string> } = {}): QemuDriver {
    const storageDir = join(this.root, options.storage ?? `storage-${hostId}`);
    const query = new URLSearchParams({ accel: 'tcg', ...options.params }).toString();
    const driver = new QemuDriver({ id: hostId, driver: 'qemu', uri: `qemu:///system?${query}`, storageDir });
    this.drivers.push(driver);
    return driver;
  }

  /** A pid started by the test itself (e.g. a foreign qemu) that cleanup must kill too. */
  track(pid: number): void {
    this.extraPids.add(pid);
  }

  async cleanup(): Promise<void> {
    for (const d of this.drivers) await d.close();
    const ours = listQemuProcesses().filter(
      (p) => this.extraPids.has(p.pid) || p.argv.some((a) => a.includes(`${this.root}/`)),
    );
    for (const p of ours) sendSignal(p.pid, 'SIGKILL');
    for (const p of ours) await waitUntilGone(() => isLive(p.pid), 5_000);
    this.removeRoot();
  }
}

function isLive(pid: number): boolean {
  return listQemuProcesses().some((p) => p.pid === pid);
}

export function vmSpec(overrides: Partial<VmSpec> = {}): VmSpec {
  const id = overrides.id ?? `vm-${randomUUID().slice(0, 8)}`;
  return { id, name: id, vcpus: 1, memoryMiB: 64, diskGiB: 1, ...overrides };
}

/** Writes/checks a byte pattern in an image with the qemu-io tool (-U: the image may be held by a QEMU). */
export function writePattern(image: string, byte: number, offset = 0, length = 65536): void {
  execFileSync('qemu-io', ['-f', 'qcow2', '-c', `write -P 0x${byte.toString(16)} ${offset} ${length}`, image], {
    stdio: 'pipe',
  });
}

export function hasPattern(image: string, byte: number, offset = 0, length = 65536): boolean {
  const out = execFileSync(
    'qemu-io',
    ['-r', '-U', '-f', 'qcow2', '-c', `read -P 0x${byte.toString(16)} ${offset} ${length}`, image],
    { encoding: 'utf8', stdio: 'pipe' },
  );
  return !out.includes('Pattern verification failed');
}

/**
 * Whether some process holds `image` open with QEMU's image locking in a way that refuses a second
 * writer: QEMU takes OFD locks on single bytes of the file, byte 200 + n meaning "I do not share
 * permission n" (n = 1: write). Read from /proc/locks, so looking never takes a lock itself (a
 * `qemu-img info` probe would, and could make the holder's own open fail).
 */
export function imageLockedAgainstWriters(image: string): boolean {
  const st = statSync(image);
  // /proc/locks prints the device as major:minor in hex (Linux dev_t encoding).
  const major = (st.dev >> 8) & 0xfff;
  const minor = (st.dev & 0xff) | ((st.dev >> 12) & 0xfff00);
  const dev = `${major.toString(16).padStart(2, '0')}:${minor.toString(16).padStart(2, '0')}:${st.ino}`;
  return readFileSync('/proc/locks', 'utf8')
    .split('\n')
    .some((line) => {
      const f = line.trim().split(/\s+/);
      // "1: OFDLCK ADVISORY READ -1 fe:00:2146466 201 201"
      if (f[1] !== 'OFDLCK' || f[5] !== dev) return false;
      const start = Number(f[6]);
      const end = f[7] === 'EOF' ? Infinity : Number(f[7]);
      return start <= 201 && 201 <= end;
    });
}

export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('package.json not found above the test file');
    dir = parent;
  }
  return dir;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
