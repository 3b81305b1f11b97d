/**
 * The cluster pause answered by its signals: with the owner's and the requester's
 * polls an hour apart, a pause request is still answered, the work runs with the
 * runner stopped, and the runner starts again once released. Real Redis; two
 * PauseSignals stand for two processes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { ProjectionRunner } from '../../src/projections/projection-runner.js';
import { PauseKeys, PauseSignals, ProjectionGate, pausedAcrossCluster } from '../../src/runtime/cluster-pause.js';
import { connectRedis } from '../../src/runtime/redis-connection.js';
import { testRedisUrl, uniqueName } from '../support/env.js';
import { redisForTest } from '../support/redis-for-test.js';
import { waitFor } from '../support/wait.js';

const HOUR = 3_600_000;

/** A runner that only says whether it runs, and tells when it starts. */
function fakeRunner(): { runner: ProjectionRunner; running: () => boolean; started: () => Promise<void> } {
  let running = false;
  let onStart: (() => void) | undefined;
  const runner = {
    projection: { name: 'vms' },
    start: async () => {
      running = true;
      onStart?.();
    },
    stop: async () => {
      running = false;
    },
  };
  return {
    runner: runner as unknown as ProjectionRunner,
    running: () => running,
    started: () => new Promise<void>((resolve) => (running ? resolve() : (onStart = resolve))),
  };
}

describe('cluster pause with signals', () => {
  const own = redisForTest('vlpause');
  const { redis } = own;
  const keys = new PauseKeys(own.prefix);
  let ownerSignals: PauseSignals;
  let requesterSignals: PauseSignals;

  before(async () => {
    ownerSignals = new PauseSignals(redis, keys);
    requesterSignals = new PauseSignals(redis, keys);
    await Promise.all([ownerSignals.ready, requesterSignals.ready]);
  });
  after(async () => {
    ownerSignals.close();
    requesterSignals.close();
    await own.cleanup();
  });

  test(
    'answered without waiting for a poll, the runner stopped during the work and started after',
    { timeout: 20_000 },
    async () => {
      const fake = fakeRunner();
      const gate = new ProjectionGate(redis, keys, [fake.runner], pino({ level: 'silent' }), ownerSignals, HOUR);
      await gate.own();
      assert.equal(fake.running(), true);
      try {
        const seen = await pausedAcrossCluster(
          redis,
          keys,
          'vms',
          async () => 'owner',
          async () => ({ runningDuringWork: fake.running(), gateSays: gate.isRunning('vms') }),
          { signals: requesterSignals, pollMs: HOUR },
        );
        assert.deepEqual(seen, { runningDuringWork: false, gateSays: false });
        await fake.started();
        await gate.sync(); // after the look that started it
        assert.equal(gate.isRunning('vms'), true);
      } finally {
        await gate.disown();
      }
    },
  );

  test('the owner looks every second while its signals are heard, every 50 ms without them', async () => {
    const log = pino({ level: 'silent' });
    assert.equal(new ProjectionGate(redis, keys, [], log).lookEveryMs, 50);
    assert.equal(new ProjectionGate(redis, keys, [], log, ownerSignals).lookEveryMs, 1000);
  });

  test(
    'a request whose signal was lost while the owner was unsubscribed is answered once it is back, polls an hour apart',
    { timeout: 30_000 },
    async () => {
      // Keys of its own: its signal connection is the only one by that name, the one cut below.
      const ownKeys = new PauseKeys(uniqueName('vlpause'));
      const signals = new PauseSignals(redis, ownKeys);
      await signals.ready;
      const fake = fakeRunner();
      const gate = new ProjectionGate(redis, ownKeys, [fake.runner], pino({ level: 'silent' }), signals, HOUR);
      await gate.own();
      try {
        assert.equal(fake.running(), true);
        // Set without its signal (as if announced while the subscription was down): no look comes for an hour.
        await redis.set(ownKeys.request('vms'), 'lost-signal', 'PX', 60_000);
        const clients = (await redis.client('LIST')) as string;
        const line = clients.split('\n').find((l) => l.includes(` name=${ownKeys.signal()}:sub `));
        assert.ok(line, 'the signal connection is named in CLIENT LIST');
        const id = /(?:^|\s)id=(\d+)/.exec(line)![1]!;
        await redis.client('KILL', 'ID', id);
        await waitFor(async () => (await redis.get(ownKeys.ack('vms'))) === 'lost-signal', {
          what: 'the owner to answer the request once subscribed again',
        });
        assert.equal(fake.running(), false);
        assert.equal(signals.live, true);
      } finally {
        await gate.disown();
        signals.close();
        await redis.del(ownKeys.request('vms'), ownKeys.ack('vms'));
      }
    },
  );

  test('subscribed from the runtime’s own client (lazy, no offline queue)', { timeout: 30_000 }, async () => {
    // The runtime's own client, made as the runtime makes it: a duplicate of it inherits its options.
    const { redis: client } = await connectRedis(testRedisUrl(), pino({ level: 'silent' }));
    const signals = new PauseSignals(client, keys);
    try {
      await signals.ready;
      await waitFor(() => signals.live, { what: 'the pause signals to be subscribed' });
      let heard = false;
      const off = signals.on(() => (heard = true));
      requesterSignals.notify();
      await waitFor(() => heard, { what: 'a signal to reach a process whose client is the runtime’s' });
      off();
    } finally {
      signals.close();
      client.disconnect();
    }
  });
});
