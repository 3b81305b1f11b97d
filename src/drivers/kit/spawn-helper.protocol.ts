/**
 * Messages between a process and its spawn helper (spawn-helper.ts, spawn-helper.child.ts),
 * over the IPC channel `fork()` sets up: a socketpair inherited by the helper, which no other
 * process can reach (no filesystem socket).
 */
export interface SpawnRequest {
  id: number;
  binary: string;
  args: string[];
  logPath: string;
}

export type SpawnReply = { id: number; pid: number } | { id: number; error: string };

/** Sent once by the helper when it listens. */
export interface HelperReady {
  ready: true;
}

export function isSpawnRequest(m: unknown): m is SpawnRequest {
  if (typeof m !== 'object' || m === null) return false;
  const r = m as Partial<SpawnRequest>;
  return (
    Number.isInteger(r.id) &&
    typeof r.binary === 'string' &&
    r.binary.length > 0 &&
    typeof r.logPath === 'string' &&
    r.logPath.length > 0 &&
    Array.isArray(r.args) &&
    r.args.every((a) => typeof a === 'string')
  );
}

export function isSpawnReply(m: unknown): m is SpawnReply {
  if (typeof m !== 'object' || m === null) return false;
  const r = m as { id?: unknown; pid?: unknown; error?: unknown };
  return Number.isInteger(r.id) && (Number.isInteger(r.pid) || typeof r.error === 'string');
}

export function isHelperReady(m: unknown): m is HelperReady {
  return typeof m === 'object' && m !== null && (m as Partial<HelperReady>).ready === true;
}
