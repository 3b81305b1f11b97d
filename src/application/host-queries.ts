/**
 * Questions the control plane asks a host's worker and waits for (request/reply
 * over the queue, with a deadline), so the API never builds a driver itself: in
 * `--role api` the API's machine is not the host, and a GET must not touch it.
 */

/** One queue per host, beside its job queue; only its own worker consumes it. */
export function hostQueryQueueName(hostId: string): string {
  return `host-query.${hostId}`;
}

/** What goes on the queue. `deadline` (epoch ms): a worker that picks it up later answers nothing. */
export interface HostQuery {
  query: 'listDomains';
  deadline: number;
}

/** One domain as the host's driver reports it (the v1 `GET /v1/hosts/{id}/domains` item). */
export interface HostDomain {
  vmId: string;
  managed: boolean;
  state: string;
  [detail: string]: unknown;
}

/** The worker's answer: the driver's listing, or why the driver could not give one. */
export type HostQueryReply = { ok: true; items: HostDomain[] } | { ok: false; reason: string };

/** No worker of that host answered within the deadline (not running, or busy past it). */
export class HostDidNotAnswer extends Error {
  override readonly name = 'HostDidNotAnswer';
  constructor(
    readonly hostId: string,
    readonly waitedMs: number,
  ) {
    super(`no worker of host ${hostId} answered within ${waitedMs} ms: is a worker serving this host running?`);
  }
}

/** The asking side; the composition root binds it to the queues. */
export interface HostQueries {
  /** Resolves with the worker's reply; rejects with HostDidNotAnswer after timeoutMs. */
  ask(hostId: string, query: HostQuery['query'], timeoutMs: number): Promise<HostQueryReply>;
}
