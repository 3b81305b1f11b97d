/**
 * Fault 5 at CI size: a driver call that never returns (simulated hangVerbs;
 * a SIGSTOPped qemu whose QMP never answers) is bounded by the job deadline,
 * the operation fails with the reason, and the next command on the VM works.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { hasQemu } from '../../chaos/scenarios/kill-worker.js';
import { runQemu, runSimulated } from '../../chaos/scenarios/hang.js';
import type { ScenarioRow } from '../../chaos/support/verdict.js';

function assertClean(row: ScenarioRow): void {
  assert.deepEqual(row.problems, [], JSON.stringify(row, null, 2));
  assert.equal(row.opsEnded, row.opsStarted);
  assert.equal(row.eventsLost + row.duplicates + row.orphans, 0);
}

describe('chaos: a hypervisor call that hangs', { timeout: 300000 }, () => {
  test('simulated pause and snapshot that never return: failed with the reason, VM usable', async (t) => {
    const row = await runSimulated(2);
    t.diagnostic(JSON.stringify(row));
    assertClean(row);
  });
  test(
    'qemu SIGSTOPped during a pause: failed with the reason, the force stop that follows works',
    { skip: !hasQemu && 'no qemu' },
    async (t) => {
      const row = await runQemu({ resume: true });
      t.diagnostic(JSON.stringify(row));
      assertClean(row);
    },
  );
  test(
    'qemu SIGSTOPped and left stopped: the pause fails on its QMP timeout, the force stop still kills it',
    { skip: !hasQemu && 'no qemu' },
    async (t) => {
      const row = await runQemu({ resume: false });
      t.diagnostic(JSON.stringify(row));
      assertClean(row);
    },
  );
});
