/**
 * A cancel that reaches the driver after QEMU completed the migration (issue 16 item 2): the
 * driver sends `migrate_cancel`, asks `query-migrate`, hears `completed`, and answers success.
 * It never resumes the source (`postmigrate`), so the guest runs on the target only (separate
 * storage: the disk mirror is ended, not cancelled with force).
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { Progress } from '../../../src/drivers/hypervisor-driver.port.js';
import { QemuTestEnv, vmSpec } from './qemu-test-env.js';

describe('qemu driver: a migration cancel that comes too late (real qemu)', () => {
  const env = new QemuTestEnv();
  after(() => env.cleanup());
  const a = env.driver('host-late-a');
  const b = env.driver('host-late-b');

  test('aborted on the very report that says completed: success, the target runs it, the source is gone', async () => {
    const spec = vmSpec();
    await a.define(spec);
    await a.start(spec);
    const endpoint = await b.prepareIncoming(spec, { live: true });
    const controller = new AbortController();
    const seen: Progress[] = [];
    // The abort lands after QEMU has answered `completed`: exactly the race a cancel can lose.
    const onProgress = (p: Progress) => {
      seen.push(p);
      if (p.message === 'migrating memory (completed)') controller.abort(new Error('operator cancelled'));
    };
    await a.migrate(spec, endpoint, { live: true }, { signal: controller.signal, onProgress });
    assert.ok(controller.signal.aborted, `the abort must have fired: ${JSON.stringify(seen.map((p) => p.message))}`);
    assert.equal((await a.status(spec)).state, 'absent', 'the source never resumes after a completed migration');
    await b.finishIncoming(spec, { live: true });
    assert.equal((await b.status(spec)).state, 'running');
    await b.destroy(spec);
  });
});
