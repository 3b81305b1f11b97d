import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { DriverError } from '../hypervisor-driver.port.js';

const LOCK_WAIT_MS = 60_000;

/**
 * Holds `<lockPath>` (created O_EXCL with our pid) while `fn` runs, across processes: a network's
 * bridge, DHCP and NAT are shared by every worker of the network namespace; two worker processes
 * of one container host (a redelivered job during a restart) must never make or mount one disk
 * image twice (ext4 mounted through two loop devices at once is corrupted). A lock whose process is
 * gone (or a zombie) is taken over.
 */
export async function withFileLock<T>(lockPath: string, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      writeFileSync(lockPath, String(process.pid), { flag: 'wx', mode: 0o600 });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number(readText(lockPath));
      if (!Number.isSafeInteger(holder) || holder <= 0 || !processExists(holder)) {
        rmSync(lockPath, { force: true });
        continue;
      }
      if (Date.now() >= deadline) throw new DriverError('timeout', `${lockPath} held by pid ${holder} for too long`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lockPath, { force: true });
  }
}

function processExists(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}
