import type { Progress } from '../hypervisor-driver.port.js';
import { virsh } from './virsh.js';

/** `virsh domjobinfo --rawstats` (key=value per line) → Progress; undefined when no job figures are there. */
export function parseJobStats(output: string): Progress | undefined {
  const v = new Map<string, number>();
  for (const line of output.split('\n')) {
    const m = /^\s*([a-z_]+)\s*[=:]\s*(\d+)\s*$/.exec(line);
    if (m) v.set(m[1]!, Number(m[2]));
  }
  // While --copy-storage-all mirrors the disk, only the disk_* figures move (data_* stay 0); then
  // data_* covers RAM and disk together.
  const prefix = (v.get('data_total') ?? 0) > 0 ? 'data' : (v.get('disk_total') ?? 0) > 0 ? 'disk' : 'memory';
  const total = v.get(`${prefix}_total`);
  const processed = v.get(`${prefix}_processed`);
  const remaining = v.get(`${prefix}_remaining`);
  if (!total && !processed) return undefined;
  const p: Progress = { message: prefix === 'disk' ? 'copying the disk' : 'migrating' };
  if (total !== undefined) p.totalBytes = total;
  if (processed !== undefined) p.transferredBytes = processed;
  if (remaining !== undefined) p.remainingBytes = remaining;
  if (total && remaining !== undefined)
    p.percent = Math.max(0, Math.min(100, Math.round((100 * (total - remaining)) / total)));
  return p;
}

/**
 * Polls the domain's job while `virsh migrate` runs and reports its figures (RAM and, with
 * --copy-storage-all, disk); returns the function that stops polling. A failed poll is skipped:
 * progress is a courtesy, the migrate call itself decides success.
 */
export function pollMigrationProgress(
  uri: string,
  domain: string,
  onProgress: (p: Progress) => void,
  intervalMs = 1000,
): () => void {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const tick = async () => {
    try {
      const out = await virsh(uri, ['domjobinfo', domain, '--rawstats'], { timeoutMs: 10_000 });
      const p = parseJobStats(out);
      if (p && !stopped) onProgress(p);
    } catch {
      // the job may have ended between two polls
    }
    if (!stopped) timer = setTimeout(() => void tick(), intervalMs);
  };
  timer = setTimeout(() => void tick(), intervalMs);
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}
