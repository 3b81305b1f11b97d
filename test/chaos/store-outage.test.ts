/**
 * Fault 4 at CI size: the event store becomes unavailable under load (SQLite
 * file locked by another process; PostgreSQL behind a TCP proxy that is cut):
 * 503 naming the store, nothing recorded for a refused command, recovery.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { postgresReachable, runPostgres, runSqlite } from '../../chaos/scenarios/store-outage.js';
import type { ScenarioRow } from '../../chaos/support/verdict.js';

function assertClean(row: ScenarioRow): void {
  assert.deepEqual(row.problems, [], JSON.stringify(row, null, 2));
  assert.equal(row.opsEnded, row.opsStarted);
  assert.equal(row.eventsLost + row.duplicates + row.orphans, 0);
}

describe('chaos: the event store unavailable', { timeout: 300000 }, () => {
  test('SQLite file locked by another process for 4 s', async (t) => {
    const row = await runSqlite(4000, 2);
    t.diagnostic(JSON.stringify(row));
    assertClean(row);
  });
  test('PostgreSQL unreachable for 4 s (proxy cut)', async (t) => {
    if (!(await postgresReachable())) return t.skip('PostgreSQL not reachable');
    const row = await runPostgres(4000, 2);
    t.diagnostic(JSON.stringify(row));
    assertClean(row);
  });
});
