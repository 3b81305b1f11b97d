/*
 * The console's wire between the API and a host's worker, restated on this side (workers may
 * not import application/console-sessions.ts; the composition root passes the names).
 *
 * Opening and log reads are request/reply jobs on the host's console queue (a worker that is
 * not running never answers, and the asker says so after its deadline). A session's bytes then
 * travel over Redis pub/sub, one channel per direction per session: the only thing a hypervisor
 * host needs to reach is Redis, so no port is opened on it and it can sit behind NAT.
 * Every message is a tag byte and a payload.
 */
import type { VmJobSpec } from '../domain/vm/vm.types.js';

export const FRAME = { data: 0x64, close: 0x63, ping: 0x70 } as const;

export function frame(tag: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.concat([Buffer.from([tag]), payload]);
}

/** How often each side says it is still there, and how long the other waits before giving up. */
export const PING_EVERY_MS = 10_000;
export const SILENCE_LIMIT_MS = 35_000;

export interface ConsoleOpenJob {
  kind: 'open';
  sessionId: string;
  spec: VmJobSpec;
  /** Input from this session is dropped here too, not only in the API. */
  readOnly: boolean;
  /** Bytes of the console log to send back as scrollback. */
  scrollbackBytes: number;
  deadline: number;
}

export interface ConsoleLogJob {
  kind: 'log';
  spec: VmJobSpec;
  maxBytes: number;
  deadline: number;
}

export type ConsoleJob = ConsoleOpenJob | ConsoleLogJob;

/** `code`: the driver's error code (`unsupported`, `conflict`, …) so the API can answer 422 or 409. */
export type ConsoleReply = { ok: true; base64: string } | { ok: false; code: string; reason: string };

export interface ConsoleChannels {
  /** API → worker: keystrokes, pings, close. */
  input(sessionId: string): string;
  /** Worker → API: console bytes, pings, close. */
  output(sessionId: string): string;
}

export function consoleChannels(prefix: string): ConsoleChannels {
  return {
    input: (id) => `${prefix}:console:${id}:in`,
    output: (id) => `${prefix}:console:${id}:out`,
  };
}
