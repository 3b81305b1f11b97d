/**
 * Fault 6 at CI size: DATA_DIR on a 48 MiB tmpfs filled to the last byte
 * under load: 503 saying the disk is full, no corrupt store (integrity_check,
 * hash chain), recovery once the space returns. Needs root for the mount.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runDiskFull } from '../../chaos/scenarios/disk-full.js';
import { SmallDisk } from '../../chaos/support/small-disk.js';

test('chaos: disk full on DATA_DIR for 4 s: clear error, store intact, recovery', { timeout: 300000 }, async (t) => {
  if (!SmallDisk.canMount()) return t.skip('cannot mount a tmpfs here (root needed)');
  const row = await runDiskFull(4000, 2);
  t.diagnostic(JSON.stringify(row));
  assert.deepEqual(row.problems, [], JSON.stringify(row, null, 2));
  assert.equal(row.opsEnded, row.opsStarted);
  assert.equal(row.eventsLost + row.duplicates + row.orphans, 0);
});
