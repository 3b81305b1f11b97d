/**
 * Fault 2 at CI size: the API/saga process SIGKILLs itself (test-only fault
 * point) after the request event is appended and before the job is enqueued;
 * after a restart the saga resumes from its checkpoint and the job runs once.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { run } from '../../chaos/scenarios/kill-api.js';

test(
  'chaos: kill -9 the API between append and enqueue (define and start): resumed, run once',
  { timeout: 300000 },
  async (t) => {
    const row = await run({ quick: true });
    t.diagnostic(JSON.stringify(row));
    assert.deepEqual(row.problems, [], JSON.stringify(row, null, 2));
    assert.equal(row.injected, 2);
    assert.equal(row.opsEnded, row.opsStarted);
    assert.equal(row.eventsLost + row.duplicates + row.orphans, 0);
  },
);
