/**
 * Fault 1 at CI size: real API, worker and redis-server processes; the worker
 * is killed -9 while driver calls run, and restarted. Every operation ends,
 * the drivers confirm every VM's state, no result is appended twice, no QEMU
 * process is orphaned or doubled.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { hasQemu, runQemu, runSimulated } from '../../chaos/scenarios/kill-worker.js';
import type { ScenarioRow } from '../../chaos/support/verdict.js';

function assertClean(row: ScenarioRow, t: { diagnostic(m: string): void }): void {
  t.diagnostic(JSON.stringify(row));
  assert.deepEqual(row.problems, [], JSON.stringify(row, null, 2));
  assert.ok(row.injected >= 1, `the worker was never killed: ${JSON.stringify(row)}`);
  assert.ok(row.opsStarted > 0);
  assert.equal(row.opsEnded, row.opsStarted);
  assert.equal(row.eventsLost, 0);
  assert.equal(row.duplicates, 0);
  assert.equal(row.orphans, 0);
}

describe('chaos: kill -9 a worker mid driver-calls', { timeout: 600000 }, () => {
  test('simulated hosts: 4 VMs, 24 commands, the worker killed every ~2.5 s', async (t) => {
    assertClean(await runSimulated({ vms: 4, commandsPerVm: 5, killEveryMs: 2500, seed: 3 }), t);
  });

  test(
    'real QEMU (TCG): 2 tiny VMs, the worker killed while QMP calls run',
    { skip: !hasQemu && 'no qemu' },
    async (t) => {
      assertClean(await runQemu({ vms: 2, commandsPerVm: 3, killEveryMs: 3000, seed: 5 }), t);
    },
  );
});
