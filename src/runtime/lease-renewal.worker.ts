/**
 * The lease renewal thread: renews the control-plane lease from its own event loop, so
 * that a main loop held for seconds (a burst of requests on a starved core, a full GC of
 * a big heap) does not let the lease lapse while its owner is alive and still the only
 * one. On one loop, a renewal's timer and its answer wait behind every request the loop
 * is working through; here nothing else runs.
 *
 * It renews only while the main thread shows signs of life (the HEARTBEAT slot, written at
 * every main-thread tick): a main loop wedged for longer than `maxStallMs` must not keep
 * the lease from a standby forever. It never decides that the main thread owns anything:
 * it writes, per tenure, how long the answered renewals let the owner trust the lease
 * (send time + 2/3 TTL, as the in-loop renewal does), and the main thread checks that
 * deadline before it trusts its ownership. Fencing is unchanged: the key holds one tenure's
 * value, renewed only while it still holds it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Redis } from 'ioredis';
import { RENEW, renewEveryMs, SLOT, trustMs, type RenewalInit, type RenewalRequest } from './lease-renewal.shared.js';

/** A Redis that answers nothing must not pile up renewals (the in-loop renewal's bound). */
const MAX_RENEWALS_IN_FLIGHT = 8;

const init = workerData as RenewalInit;
const slots = new BigInt64Array(init.shared);
// Fail fast while disconnected (no offline queue, no retries): a renewal that cannot be sent extends nothing.
const redis = new Redis({ ...init.endpoint, maxRetriesPerRequest: 0, enableOfflineQueue: false });
redis.on('error', () => undefined);

let current: { token: number; value: string } | undefined;
let inFlight = 0;

function renew(): void {
  const tenure = current;
  if (!tenure || inFlight >= MAX_RENEWALS_IN_FLIGHT) return;
  if (Date.now() - Number(Atomics.load(slots, SLOT.HEARTBEAT)) > init.maxStallMs) return;
  inFlight++;
  const sentAt = Date.now();
  redis
    .eval(RENEW, 1, init.key, tenure.value, init.ttlMs)
    .then(
      (ok) => {
        // An answer for a tenure the main thread has since given up extends nothing.
        if (current !== tenure) return;
        if (ok === 1) {
          const until = BigInt(sentAt + trustMs(init.ttlMs));
          // Answers may come out of order only across reconnections: an older one never shortens the trust.
          if (until > Atomics.load(slots, SLOT.TRUST)) Atomics.store(slots, SLOT.TRUST, until);
        } else Atomics.store(slots, SLOT.REFUSED, BigInt(tenure.token));
      },
      // Redis unreachable: the trust runs out on its own and the main thread lets go.
      () => undefined,
    )
    .finally(() => inFlight--);
}

parentPort!.on('message', (m: RenewalRequest) => {
  if (m.type === 'stop') {
    current = undefined;
    Atomics.store(slots, SLOT.TOKEN, 0n);
    return;
  }
  current = { token: m.token, value: m.value };
  // TRUST before TOKEN: the main thread never reads a previous tenure's deadline under this one's token.
  Atomics.store(slots, SLOT.TRUST, 0n);
  Atomics.store(slots, SLOT.TOKEN, BigInt(m.token));
  renew();
});

setInterval(renew, renewEveryMs(init.ttlMs));
