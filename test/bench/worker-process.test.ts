/**
 * The bench's create section with the host worker in a process of its own (`--worker own-process`):
 * the measured process runs as ROLE=api and serves no host itself, every create still reaches
 * running (the separate ROLE=worker process ran the jobs), the worker's CPU is reported apart, the
 * client thread's own CPU is reported, the server's own POST and append times are taken, and closing the section stops the worker process.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { controlPlaneBench } from '../../bench/control-plane.js';
import { tempDir, testRedisUrl } from '../support/env.js';
import { redisForTest } from '../support/redis-for-test.js';

describe('bench: the create section with the host worker in its own process', () => {
  const dir = tempDir('vl-bench-wp-');
  // The bench's own processes write under the prefix; this file connects only to clean up.
  const own = redisForTest('vlbenchwp');
  const { prefix } = own;
  after(async () => {
    await own.cleanup();
    dir.cleanup();
  });

  test('creates reach running through the ROLE=worker process; its CPU is reported apart', async () => {
    const n = 6;
    const cp = await controlPlaneBench({
      redisUrl: testRedisUrl(),
      prefix,
      dataDir: dir.dir,
      eventStoreUrl: 'sqlite:events.sqlite3',
      n,
      concurrency: 3,
      workerProcess: true,
    });
    let workerPid: number | undefined;
    try {
      assert.equal(cp.failed, 0);
      assert.equal(cp.toRunning.n, n, 'every create reached running');
      assert.equal(cp.serverPost.n, n, 'each POST timed on the server too');
      assert.ok(cp.appends.n >= n, 'every create appended at least once');
      assert.ok(cp.loopDelay.p50 >= 0 && cp.loopDelay.max >= cp.loopDelay.p99, 'the loop delay was sampled');
      assert.equal(cp.runtime.config.role, 'api');
      assert.equal(cp.runtime.pool.workers.size, 0, 'the measured process served no host itself');
      const beats = await cp.runtime.hub.heartbeats();
      const beat = JSON.parse(beats[cp.hostId]!) as { by: string };
      workerPid = Number(beat.by.split('/').pop());
      assert.notEqual(workerPid, process.pid, 'the host is served by another process');
      assert.ok(cp.workerCpuMsPerCreate !== undefined && cp.workerCpuMsPerCreate > 0, 'worker CPU reported');
      assert.ok(cp.clientCpuMsPerCreate !== undefined && cp.clientCpuMsPerCreate >= 0, 'client thread CPU reported');
      assert.ok(cp.clientCpuMsPerCreate <= cp.cpuMsPerCreate, 'the client thread is part of the process');
    } finally {
      await cp.close();
    }
    assert.throws(() => process.kill(workerPid!, 0), /ESRCH/, 'the worker process is stopped with the section');
  });
});
