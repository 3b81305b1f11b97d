/**
 * The control-plane lease on a real Redis: one owner at a time, a growing
 * fencing token per tenure, hand-over on release, take-over after a dead
 * owner's TTL, and an owner that stops its roles at once when its renewal is
 * refused or Redis goes silent (cut through a TCP proxy) — before the key can
 * expire, so two owners never overlap.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { TcpProxy } from '../../chaos/support/tcp-proxy.js';
import { RedisProjectionTx } from '../../src/projections/redis-projection-tx.js';
import { LeaderLease } from '../../src/runtime/leader-lease.js';
import { testRedisUrl } from '../support/env.js';
import { redisForTest } from '../support/redis-for-test.js';
import { waitFor } from '../support/wait.js';

const log = pino({ level: 'silent' });
const TTL = 600;

interface Probe {
  lease: LeaderLease;
  /** Every transition the roles saw, in order. */
  seen: string[];
}

function probe(redis: Redis, key: string, ttlMs = TTL, seen: string[] = []): Probe {
  const lease = new LeaderLease(
    redis,
    { key, ttlMs, log },
    {
      acquired: (fence) => void seen.push(`acquired ${fence}`),
      lost: (reason) => void seen.push(`lost ${reason}`),
    },
  );
  return { lease, seen };
}

describe('leader lease on Redis', () => {
  const own = redisForTest('vllease');
  const { redis, prefix } = own;
  const open: LeaderLease[] = [];
  const start = async (p: Probe) => {
    open.push(p.lease);
    await p.lease.start();
    return p;
  };

  after(async () => {
    await Promise.all(open.map((l) => l.stop()));
    await own.cleanup();
  });

  test('one owner; release hands over at once with a larger fencing token', async () => {
    const key = `${prefix}:a`;
    const a = await start(probe(redis, key));
    const b = await start(probe(redis, key));
    assert.equal(a.lease.isOwner, true, 'the first process owns it from start()');
    assert.equal(b.lease.isOwner, false);
    const first = a.lease.fence!;
    assert.deepEqual(a.seen, [`acquired ${first}`]);
    await a.lease.stop();
    assert.deepEqual(a.seen, [`acquired ${first}`, 'lost shutting down']);
    await waitFor(() => b.lease.isOwner, { what: 'the standby to take the released lease', timeoutMs: 10_000 });
    assert.ok(b.lease.fence! > first, `fence ${b.lease.fence} after ${first}`);
    assert.deepEqual(b.seen, [`acquired ${b.lease.fence}`]);
  });

  test('a dead owner (its key left to expire) is replaced after the TTL', async () => {
    const key = `${prefix}:b`;
    // What a kill -9'd owner leaves: its key, renewed by nobody.
    await redis.set(key, 'dead-host/1/x|41', 'PX', TTL);
    const b = await start(probe(redis, key));
    assert.equal(b.lease.isOwner, false);
    await waitFor(() => b.lease.isOwner, { what: 'the standby to take the expired lease', timeoutMs: 10_000 });
    assert.equal((await redis.pttl(key)) > 0, true, 'the new owner renews it');
  });

  test('a renewal refused (someone else holds the key) stops the roles', async () => {
    const key = `${prefix}:c`;
    const a = await start(probe(redis, key));
    assert.equal(a.lease.isOwner, true);
    await redis.set(key, 'intruder/1/x|999', 'PX', 60_000);
    await waitFor(() => !a.lease.isOwner, { what: 'the owner to notice it lost the lease', timeoutMs: 10_000 });
    assert.equal(a.seen.at(-1), 'lost another process holds the lease');
  });

  test('Redis silent: the owner lets go before its key can expire, and a standby takes over after', async () => {
    const key = `${prefix}:d`;
    const url = new URL(testRedisUrl());
    const proxy = await TcpProxy.start({ host: url.hostname, port: Number(url.port || 6379) });
    // No offline queue and no retries: a command to a cut Redis fails or hangs, as in a partition.
    const cutOff = new Redis({
      host: '127.0.0.1',
      port: proxy.port,
      maxRetriesPerRequest: 0,
      db: Number(url.pathname.slice(1) || 0),
    });
    cutOff.on('error', () => undefined);
    try {
      // Both processes' transitions in the order they happened.
      const order: string[] = [];
      const a = await start(probe(cutOff, key, TTL, order));
      const b = await start(probe(redis, key, TTL, order));
      assert.equal(a.lease.isOwner, true);
      await proxy.cut();
      await waitFor(() => !a.lease.isOwner, { what: 'the cut-off owner to stop its roles', timeoutMs: 10_000 });
      await waitFor(() => b.lease.isOwner, { what: 'the standby to take over after the TTL', timeoutMs: 10_000 });
      // The old owner let go on its own clock while its key still stood: no overlap.
      assert.equal(order.length, 3, order.join(' | '));
      assert.match(order[0]!, /^acquired \d+$/);
      assert.equal(order[1], 'lost could not renew in time');
      assert.equal(order[2], `acquired ${b.lease.fence}`);
    } finally {
      cutOff.disconnect();
      await proxy.cut();
    }
  });

  test('an owner whose renewals are answered late (a busy event loop) keeps the lease while each comes within its trust', async () => {
    const key = `${prefix}:slow`;
    // Every renewal answered 1 s after it was sent, as under load when the reply waits its turn behind the
    // requests: at the default 3 s TTL an owner trusts each answered renewal for 2 s from its send. Renewing
    // once per ttl/3 and one at a time, the answer to the next renewal came after that deadline.
    const RENEW_DELAY_MS = 1000;
    let answered = 0;
    const slow = new Proxy(redis, {
      get(target, prop, receiver) {
        if (prop !== 'eval') return Reflect.get(target, prop, receiver) as unknown;
        const evaluate = target.eval.bind(target) as (...args: Array<string | number>) => Promise<unknown>;
        return async (script: string, ...args: Array<string | number>) => {
          if (!script.includes('pexpire')) return evaluate(script, ...args);
          await new Promise((resolve) => setTimeout(resolve, RENEW_DELAY_MS));
          const r = await evaluate(script, ...args);
          answered++;
          return r;
        };
      },
    });
    const a = await start(probe(slow, key, 3000));
    assert.equal(a.lease.isOwner, true);
    const fence = a.lease.fence!;
    await waitFor(() => answered >= 8 || !a.lease.isOwner, {
      what: 'eight late renewals to be answered',
      timeoutMs: 20_000,
    });
    assert.deepEqual(a.seen, [`acquired ${fence}`], 'the roles were never stopped');
    assert.equal(a.lease.isOwner, true);
    assert.equal(a.lease.fence, fence, 'the same tenure');
  });

  test('a fenced projection commit lands only under the current tenure: a stale owner writes nothing', async () => {
    const key = `${prefix}:e`;
    const a = await start(probe(redis, key));
    const fence = a.lease.commitFence()!;
    const record = `${prefix}:rm:vm:1`;
    const index = `${prefix}:rm:idx`;
    const checkpoint = `${prefix}:rm:checkpoint:vms`;
    const tx = new RedisProjectionTx(redis);
    tx.set(record, { state: 'running' });
    tx.index(index, 1, 'vm-1');
    await tx.commit(checkpoint, 7n, fence);
    assert.deepEqual(JSON.parse((await redis.get(record))!), { state: 'running' });
    assert.equal(await redis.zscore(index, 'vm-1'), '1');
    assert.equal(await redis.get(checkpoint), '7');
    // The tenure ends (another owner now): the old fence no longer opens the door.
    await a.lease.stop();
    await redis.set(key, 'next-owner/2/y|1000', 'PX', 60_000);
    const stale = new RedisProjectionTx(redis);
    stale.set(record, { state: 'stopped' });
    stale.index(index, 2, 'vm-2');
    await assert.rejects(stale.commit(checkpoint, 8n, fence), /FENCED/);
    assert.deepEqual(JSON.parse((await redis.get(record))!), { state: 'running' }, 'nothing written');
    assert.equal(await redis.zscore(index, 'vm-2'), null);
    assert.equal(await redis.get(checkpoint), '7');
  });
});
