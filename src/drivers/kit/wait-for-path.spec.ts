import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { waitForPath } from './wait-for-path.js';

describe('waitForPath: a file another process creates, waited for by a watch', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vl-wait-path-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('already there: true at once', async () => {
    const p = join(dir, 'there');
    writeFileSync(p, '');
    assert.equal(await waitForPath(p, { timeoutMs: 10_000 }), true);
  });

  test('created later: true once it appears, even with a look interval far beyond the test', async () => {
    const p = join(dir, 'later.sock');
    const waiting = waitForPath(p, { timeoutMs: 60_000, recheckMs: 60_000 });
    writeFileSync(join(dir, 'other'), ''); // another name in the same directory does not end the wait
    setImmediate(() => writeFileSync(p, ''));
    assert.equal(await waiting, true);
  });

  test('the creator died first: false without waiting for the timeout', async () => {
    let alive = true;
    const waiting = waitForPath(join(dir, 'never'), { timeoutMs: 60_000, recheckMs: 5, alive: () => alive });
    alive = false;
    assert.equal(await waiting, false);
  });

  test('aborted, timed out or in a directory that does not exist: false', async () => {
    const ac = new AbortController();
    const waiting = waitForPath(join(dir, 'never'), { timeoutMs: 60_000, signal: ac.signal });
    ac.abort();
    assert.equal(await waiting, false);
    assert.equal(await waitForPath(join(dir, 'never'), { timeoutMs: 1 }), false);
    assert.equal(await waitForPath(join(dir, 'missing-dir', 'x'), { timeoutMs: 1 }), false);
  });
});
