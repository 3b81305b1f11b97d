import type { VmJobSpec } from '../domain/vm/vm.types.js';

/**
 * The serial console as the control plane sees it: a link to the VM's host worker, which holds
 * the real console (the API never touches a host). The composition root binds this to the
 * host's console queue and Redis pub/sub (runtime/console-hosts.ts, workers/console-wire.ts).
 */

/** One queue per host for console requests, beside its job and query queues. */
export function consoleQueueName(hostId: string): string {
  return `host-console.${hostId}`;
}

/** A session's bytes both ways. */
export interface ConsoleLink {
  /** The end of the console log when the session opened, to show before live output. */
  readonly scrollback: Buffer;
  onData(listener: (chunk: Buffer) => void): void;
  /** Once: the worker ended the session (VM stopped, worker gone silent) or close() was called. */
  onClose(listener: (reason: string) => void): void;
  write(data: Buffer): void;
  close(reason: string): void;
}

export interface ConsoleOpenRequest {
  hostId: string;
  spec: VmJobSpec;
  sessionId: string;
  readOnly: boolean;
  scrollbackBytes: number;
}

/** The host refused: `code` is the driver's (`unsupported` → 422, `conflict` → 409, …). */
export class ConsoleRefused extends Error {
  override readonly name = 'ConsoleRefused';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface ConsoleHosts {
  /** Rejects with ConsoleRefused, or HostDidNotAnswer (host-queries.ts) after timeoutMs. */
  open(req: ConsoleOpenRequest, timeoutMs: number): Promise<ConsoleLink>;
  /** The last maxBytes of the VM's console log, read by its host's worker. */
  log(hostId: string, spec: VmJobSpec, maxBytes: number, timeoutMs: number): Promise<Buffer>;
  /** A one-use ticket that stands for `payload` for ttlMs, in every API process. */
  issueTicket(payload: string, ttlMs: number): Promise<string>;
  /** The payload of a ticket, once; undefined when unknown, used or expired. */
  redeemTicket(ticket: string): Promise<string | undefined>;
}
