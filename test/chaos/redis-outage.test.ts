/**
 * Fault 3 at CI size: the scenario's own redis-server is killed under load and
 * started again empty: 503 or accepted-and-finished, read models rebuilt,
 * nothing lost, no result twice.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runOutage } from '../../chaos/scenarios/redis-outage.js';

test('chaos: Redis down for 4 s under load, back empty: nothing lost', { timeout: 300000 }, async (t) => {
  const row = await runOutage(4000, 2);
  t.diagnostic(JSON.stringify(row));
  assert.deepEqual(row.problems, [], JSON.stringify(row, null, 2));
  assert.equal(row.opsEnded, row.opsStarted);
  assert.equal(row.eventsLost + row.duplicates + row.orphans, 0);
});
