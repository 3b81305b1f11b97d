import type { SnapshotInfo } from '../hypervisor-driver.port.js';

const LINE = /^\s*(\S+)\s+(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) ([+-]\d\d)(\d\d)\s+(\S.*?)\s*$/;

/**
 * Parses `virsh -q snapshot-list <dom>` (Name, Creation Time, State). A snapshot taken while the
 * domain ran ("running"/"paused") holds its memory; "shutoff" and "disk-snapshot" are disk only.
 */
export function parseSnapshotList(output: string): SnapshotInfo[] {
  const out: SnapshotInfo[] = [];
  for (const line of output.split('\n')) {
    const m = LINE.exec(line);
    if (!m) continue;
    const state = m[5]!;
    const at = new Date(`${m[2]!.replace(' ', 'T')}${m[3]!}:${m[4]!}`);
    out.push({
      name: m[1]!,
      memory: state === 'running' || state === 'paused',
      ...(Number.isNaN(at.getTime()) ? {} : { createdAt: at.toISOString() }),
    });
  }
  return out;
}
