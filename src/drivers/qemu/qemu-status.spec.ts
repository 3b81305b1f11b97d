import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { resumedLast } from './qemu-status.js';
import type { QmpEvent } from './qmp.types.js';

const events = (...names: string[]): QmpEvent[] =>
  names.map((event) => ({ event, timestamp: { seconds: 1, microseconds: 0 } }));

describe('resumedLast', () => {
  test('RESUME as the last run-state event: the guest runs, whatever unrelated events came after', () => {
    assert.equal(resumedLast(events('MIGRATION', 'RESUME')), true);
    assert.equal(resumedLast(events('STOP', 'RESUME', 'MIGRATION', 'RTC_CHANGE')), true);
  });

  test('a stop of any kind after the RESUME, or no run-state event at all: not known to run', () => {
    assert.equal(resumedLast(events()), false);
    assert.equal(resumedLast(events('MIGRATION', 'MIGRATION')), false);
    for (const stop of ['STOP', 'SUSPEND', 'SUSPEND_DISK', 'SHUTDOWN', 'GUEST_PANICKED']) {
      assert.equal(resumedLast(events('RESUME', stop, 'MIGRATION')), false, stop);
    }
  });
});
