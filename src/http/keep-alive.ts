import type { Server } from 'node:http';

/**
 * How long an idle keep-alive connection stays open. Node's 5 s default raced its clients:
 * the server closes an idle socket from a timer, and a request that reached the kernel just
 * before (the client reuses a socket it believes open, undici up to 4 s idle) is read by no
 * one, so the close goes out as a reset and the client gets ECONNRESET for a request the
 * server never saw. Under load the event loop polls its sockets seldom, the window grows to
 * the loop's turn, and the chaos `load` lost 1–5 % of its requests that way. 65 s is above
 * the idle timeout of the balancers put in front of an API (60 s for nginx and AWS ALB), so
 * the balancer, not the server, closes first; an idle socket costs a file descriptor and
 * no work. A request's headers must still arrive within `headersTimeout` (slowloris).
 */
export const KEEP_ALIVE_TIMEOUT_MS = 65_000;

export function keepIdleConnections(server: Server): void {
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
}
