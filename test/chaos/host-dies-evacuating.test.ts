/**
 * A host dies during its evacuation, at CI size: real API, worker and redis-server processes; the
 * evacuated host's worker is killed -9 after the first VM moved; the host is fenced; the evacuation
 * ends naming what could not move; no VM is lost or doubled; the drivers agree with the log once
 * the host is back.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runEvacuation } from '../../chaos/scenarios/host-dies-evacuating.js';

describe('chaos: a host dies mid-evacuation', { timeout: 600000 }, () => {
  test('simulated hosts: 4 VMs evacuated, the source killed -9 after the first moved, then fenced', async (t) => {
    const row = await runEvacuation({ vms: 4 });
    t.diagnostic(JSON.stringify(row));
    assert.deepEqual(row.problems, [], JSON.stringify(row, null, 2));
    assert.equal(row.injected, 1);
    assert.equal(row.opsEnded, row.opsStarted);
    assert.equal(row.eventsLost, 0);
    assert.equal(row.duplicates, 0);
    assert.equal(row.orphans, 0);
  });
});
