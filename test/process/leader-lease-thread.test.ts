/**
 * The control-plane lease renewed from its own thread (renewFrom): a main loop held for
 * seconds keeps the lease it would have lost renewing on that loop; a main loop wedged
 * past maxStallMs lets it go (the thread stops renewing, the key expires); a refused
 * renewal or a cut Redis still stop the roles before the key can expire.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { TcpProxy } from '../../chaos/support/tcp-proxy.js';
import { LeaderLease, type LeaderLeaseOptions } from '../../src/runtime/leader-lease.js';
import { redisOptions } from '../../src/runtime/redis-connection.js';
import { testRedisUrl } from '../support/env.js';
import { redisForTest } from '../support/redis-for-test.js';
import { waitFor } from '../support/wait.js';

const log = pino({ level: 'silent' });
const TTL = 600;

/** The fault injected: the main loop does not turn for `ms` (what a full GC or a starved core does to it). */
function holdLoop(ms: number): number {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // busy: no timer, no socket answer, no tick runs on this thread meanwhile
  }
  return Date.now();
}

describe('leader lease renewed from its own thread', () => {
  const own = redisForTest('vlleaset');
  const { redis, prefix } = own;
  const open: LeaderLease[] = [];
  const start = async (key: string, extra: Partial<LeaderLeaseOptions> = {}, client = redis, seen: string[] = []) => {
    const lease = new LeaderLease(
      client,
      { key, ttlMs: TTL, log, ...extra },
      {
        acquired: (fence) => void seen.push(`acquired ${fence}`),
        lost: (reason) => void seen.push(`lost ${reason}`),
      },
    );
    open.push(lease);
    await lease.start();
    return { lease, seen };
  };
  const threaded = { renewFrom: redisOptions(testRedisUrl()) };
  /** The thread has answered renewals for the current tenure (it is loaded and connected). */
  const renewedByThread = (lease: LeaderLease) =>
    waitFor(() => (lease.threadTrustUntil ?? 0) > 0, { what: 'a renewal from the thread', timeoutMs: 10_000 });
  /**
   * Each lease owns its key. A first tenure can end before the fault is injected on a loaded
   * machine (a 600 ms TTL; the thread still loading): the next tick takes the key again, so the
   * cases wait for ownership instead of asserting it the moment start() returns, and judge
   * only what happened after the fault.
   */
  const owned = (...leases: LeaderLease[]) =>
    waitFor(() => leases.every((l) => l.isOwner), { what: 'the leases to be owned', timeoutMs: 10_000 });

  after(async () => {
    await Promise.all(open.map((l) => l.stop()));
    await own.cleanup();
  });

  test('a main loop held 2.5× the TTL keeps the lease renewed from the thread; renewed on the loop, it is lost', async () => {
    const a = await start(`${prefix}:held-thread`, threaded);
    const b = await start(`${prefix}:held-loop`);
    // In one look: the thread renews a's current tenure and b owns (a tenure can end while the other is awaited).
    await waitFor(() => (a.lease.threadTrustUntil ?? 0) > 0 && b.lease.isOwner, {
      what: 'a renewed from its thread and b owned',
      timeoutMs: 10_000,
    });
    const fence = a.lease.fence!;
    const [aBefore, bBefore] = [a.seen.length, b.seen.length];
    const resumed = holdLoop(TTL * 2.5);
    await waitFor(() => a.lease.lastTickAt > resumed && b.lease.lastTickAt > resumed, {
      what: 'both leases to check their ownership after the held loop',
      timeoutMs: 10_000,
    });
    assert.deepEqual(a.seen.slice(aBefore), [], 'renewed from the thread: the roles never stopped');
    assert.equal(a.lease.fence, fence, 'the same tenure');
    assert.equal(await redis.get(`${prefix}:held-thread`), `${a.lease.holder}|${fence}`);
    // The same hold without the thread: nothing renewed for longer than the trust (the contrast that makes the case).
    // Not necessarily its last word: with the key expired, it may already have taken the lease again (a new tenure).
    assert.equal(
      b.seen[bBefore],
      'lost could not renew in time',
      `renewed on the loop, the lease was lost: ${b.seen.join(', ')}`,
    );
  });

  test('a main loop wedged past maxStallMs: the thread stops renewing, the key expires, the owner lets go', async () => {
    const key = `${prefix}:wedged`;
    const a = await start(key, { ...threaded, maxStallMs: 800 });
    await renewedByThread(a.lease);
    const fence = a.lease.fence!;
    const before = a.seen.length;
    holdLoop(2500);
    // Sent before this thread's loop turns again (no tick of the lease ran): what Redis holds after the stall.
    const exists = redis.exists(key);
    assert.equal(await exists, 0, 'the thread stopped renewing once the main loop had not turned for 800 ms');
    await waitFor(() => !a.lease.isOwner, { what: 'the wedged owner to let go', timeoutMs: 10_000 });
    assert.deepEqual(a.seen.slice(before - 1, before + 1), [`acquired ${fence}`, 'lost could not renew in time']);
  });

  test('a renewal refused (someone else holds the key) stops the roles', async () => {
    const key = `${prefix}:refused`;
    const a = await start(key, threaded);
    await owned(a.lease);
    await redis.set(key, 'intruder/1/x|999', 'PX', 60_000);
    await waitFor(() => !a.lease.isOwner, { what: 'the owner to notice it lost the lease', timeoutMs: 10_000 });
    assert.equal(a.seen.at(-1), 'lost another process holds the lease');
    assert.equal(await redis.get(key), 'intruder/1/x|999', 'the thread renewed nothing of the intruder');
  });

  test('Redis cut from the thread and the loop: the owner lets go before its key expires, a standby takes over', async () => {
    const key = `${prefix}:cut`;
    const url = new URL(testRedisUrl());
    const proxy = await TcpProxy.start({ host: url.hostname, port: Number(url.port || 6379) });
    const db = Number(url.pathname.slice(1) || 0);
    const cutOff = new Redis({ host: '127.0.0.1', port: proxy.port, maxRetriesPerRequest: 0, db });
    cutOff.on('error', () => undefined);
    try {
      // Both processes' transitions in the order they happened.
      const order: string[] = [];
      const a = await start(key, { renewFrom: { host: '127.0.0.1', port: proxy.port, db } }, cutOff, order);
      await renewedByThread(a.lease);
      const b = await start(key, {}, redis, order);
      assert.equal(a.lease.isOwner, true);
      assert.equal(b.lease.isOwner, false);
      await proxy.cut();
      await waitFor(() => b.lease.isOwner, { what: 'the standby to take over after the TTL', timeoutMs: 10_000 });
      // The old owner let go on its own clock while its key still stood: no overlap.
      assert.deepEqual(order, [
        `acquired ${order[0]!.split(' ')[1]}`,
        'lost could not renew in time',
        `acquired ${b.lease.fence}`,
      ]);
    } finally {
      cutOff.disconnect();
      await proxy.cut();
    }
  });
});
