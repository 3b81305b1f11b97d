/**
 * The bench's create section (ROLE=all): `warmup` creates run to completion before the measured
 * section and are not counted in it; each POST's latency is also given in the server's main-thread
 * CPU time that passed while it was in flight; the POSTs' own window is reported (its length, rate
 * and what the process and its main thread spent in it).
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { controlPlaneBench } from '../../bench/control-plane.js';
import { tempDir, testRedisUrl } from '../support/env.js';
import { redisForTest } from '../support/redis-for-test.js';

describe('bench: the create section after a warm-up', () => {
  const dir = tempDir('vl-bench-warm-');
  // The bench's own processes write under the prefix; this file connects only to clean up.
  const own = redisForTest('vlbenchwarm');
  const { prefix } = own;
  after(async () => {
    await own.cleanup();
    dir.cleanup();
  });

  test('the warm-up creates run first and are not counted; POSTs in main-thread CPU and their window are reported', async () => {
    const n = 5;
    const warmup = 4;
    const cp = await controlPlaneBench({
      redisUrl: testRedisUrl(),
      prefix,
      dataDir: dir.dir,
      eventStoreUrl: 'sqlite:events.sqlite3',
      n,
      concurrency: 2,
      warmup,
    });
    try {
      assert.equal(cp.failed, 0);
      assert.equal(cp.accept.n, n, 'only the measured POSTs are in the figures');
      assert.equal(cp.toRunning.n, n, 'every measured create reached running');
      const created = await cp.runtime.store!.readAll({ types: ['VmCreateRequested'] });
      const listed = created.map((e) => (e.data as { spec: { name: string } }).spec.name);
      assert.equal(listed.filter((name) => name.startsWith('warmup-')).length, warmup, 'the warm-up VMs were created');
      assert.equal(listed.filter((name) => name.startsWith('bench-')).length, n);
      if (process.platform === 'linux') {
        assert.equal(cp.acceptMainCpu?.n, n, 'each POST has its main-thread CPU figure');
        assert.ok(cp.acceptMainCpu.p50 >= 0);
        assert.ok(cp.postPhase.mainWaitingForCore !== undefined && cp.postPhase.mainWaitingForCore >= 0);
      }
      assert.ok(cp.postPhase.ms > 0 && cp.postPhase.perSecond > 0, 'the POSTs’ window was measured');
      assert.ok(cp.postPhase.processCores > 0);
      // The runtime goes on to the bench's next sections: the section's own listener must be gone.
      assert.equal(cp.runtime.projection('vms')!.listenerCount('applied'), 0, 'the section stopped watching');
    } finally {
      await cp.close();
    }
  });
});
