/**
 * What the main thread and the lease renewal thread share (lease-renewal.worker.ts): a few
 * integers in a SharedArrayBuffer, read and written with Atomics, so that neither side
 * needs the other's event loop to learn them. A message would wait for the receiving loop;
 * the reason this thread exists is that the main loop may not turn for seconds.
 */
import type { RedisEndpoint } from './redis-connection.js';

/** Slots of the shared BigInt64Array. */
export const SLOT = {
  /** The tenure (fencing token) the thread renews now; 0 for none. Written after TRUST is reset. */
  TOKEN: 0,
  /** Local ms deadline until which the renewals of TOKEN's tenure let its owner trust the lease. */
  TRUST: 1,
  /** The main thread's last sign of life (Date.now()): the thread renews only while it is recent. */
  HEARTBEAT: 2,
  /** A tenure whose renewal Redis refused (another process holds the key). */
  REFUSED: 3,
} as const;
export const SLOTS = 4;

export interface RenewalInit {
  endpoint: RedisEndpoint;
  key: string;
  ttlMs: number;
  /** The renewals stop once the main thread has shown no sign of life for this long (a wedged owner lets go). */
  maxStallMs: number;
  shared: SharedArrayBuffer;
}

/** Main → thread: renew this tenure from now on, or stop renewing. */
export type RenewalRequest = { type: 'renew'; token: number; value: string } | { type: 'stop' };

/** The renewal script (also the in-loop renewal's): extends the key only while it still holds this tenure. */
export const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;

/** How long one answered renewal lets the owner trust the lease, from the renewal's send: 2/3 of the TTL. */
export function trustMs(ttlMs: number): number {
  return Math.floor((ttlMs * 2) / 3);
}

/** Renew every ttl/12 (at least every 50 ms): see LeaderLease for why that often. */
export function renewEveryMs(ttlMs: number): number {
  return Math.max(50, Math.floor(ttlMs / 12));
}
