import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { writeLockListed } from '../../../src/drivers/kit/image-locks.js';
import { isImageInUse } from '../../../src/drivers/kit/qemu-img.js';
import { QemuTestEnv, vmSpec } from './qemu-test-env.js';

/**
 * Whether a QEMU holds a disk, as a migration target on shared storage asks it: /proc/locks lists
 * QEMU's lock on the image's write-permission byte while it runs the VM (no qemu-img fork), and
 * nothing once it stopped, when qemu-img is asked and says the same. The table is read without
 * holding the event loop.
 */
describe('qemu: a disk a running QEMU holds is seen in /proc/locks (real qemu)', () => {
  const env = new QemuTestEnv();
  after(() => env.cleanup());
  const driver = env.driver('host-lock');

  test('listed while the VM runs, not once it stopped; isImageInUse agrees both times', async () => {
    const spec = vmSpec();
    await driver.define(spec);
    const disk = driver.domainPaths(spec.id).disk;
    assert.equal(await writeLockListed(disk), false, 'a defined disk nobody opened');
    assert.equal(await isImageInUse(disk), false);
    await driver.start(spec);
    // Off the event loop (a read of /proc/locks can wait tens of ms in the kernel): the callback
    // queued before the call runs while the table is read, not after a read that held the process.
    let otherWorkRan = false;
    setImmediate(() => (otherWorkRan = true));
    assert.equal(await writeLockListed(disk), true, "QEMU's write-permission lock is listed");
    assert.equal(otherWorkRan, true, 'the process went on while /proc/locks was read');
    assert.equal(await isImageInUse(disk), true);
    await driver.stop(spec, { force: true });
    assert.equal(await writeLockListed(disk), false, 'gone with the QEMU');
    assert.equal(await isImageInUse(disk), false);
    assert.equal(await writeLockListed(`${disk}.missing`), undefined, 'an image that is not there: cannot tell');
    await driver.destroy(spec);
  });
});
