import type { ToolRun } from './exec-tool.js';

/**
 * Messages between a process and its spawn helper (spawn-helper.ts, spawn-helper.child.ts),
 * over the IPC channel `fork()` sets up: a socketpair inherited by the helper, which no other
 * process can reach (no filesystem socket).
 */

/** Start `binary` detached (spawn-detached.ts) and answer its pid. */
export interface SpawnRequest {
  kind: 'detached';
  id: number;
  binary: string;
  args: string[];
  logPath: string;
}

/** Run `file` to its end (no shell), bounded by `timeoutMs` (then SIGKILL), and answer its output. */
export interface RunRequest {
  kind: 'run';
  id: number;
  file: string;
  args: string[];
  timeoutMs: number;
}

/** The caller gave up on run `id` (its AbortSignal): kill the tool. */
export interface AbortRequest {
  kind: 'abort';
  id: number;
}

export type HelperRequest = SpawnRequest | RunRequest | AbortRequest;

export type HelperReply = { id: number; pid: number } | { id: number; error: string } | ({ id: number } & ToolRun);

/** Sent once by the helper when it listens. */
export interface HelperReady {
  ready: true;
}

const isStrings = (xs: unknown): xs is string[] => Array.isArray(xs) && xs.every((a) => typeof a === 'string');
const isName = (s: unknown): s is string => typeof s === 'string' && s.length > 0;

export function isHelperRequest(m: unknown): m is HelperRequest {
  if (typeof m !== 'object' || m === null) return false;
  const r = m as Record<string, unknown>;
  if (!Number.isInteger(r.id)) return false;
  switch (r.kind) {
    case 'detached':
      return isName(r.binary) && isName(r.logPath) && isStrings(r.args);
    case 'run':
      return isName(r.file) && isStrings(r.args) && typeof r.timeoutMs === 'number' && r.timeoutMs > 0;
    case 'abort':
      return true;
    default:
      return false;
  }
}

export function isHelperReply(m: unknown): m is HelperReply {
  if (typeof m !== 'object' || m === null) return false;
  const r = m as Record<string, unknown>;
  if (!Number.isInteger(r.id)) return false;
  return Number.isInteger(r.pid) || typeof r.error === 'string' || typeof r.stdout === 'string';
}

export function isHelperReady(m: unknown): m is HelperReady {
  return typeof m === 'object' && m !== null && (m as Partial<HelperReady>).ready === true;
}
