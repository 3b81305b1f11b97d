import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { GuestConsole, ensureGuest, waitForLog, type GuestImage } from './guest-console.js';
import { QemuTestEnv, vmSpec } from './qemu-test-env.js';

/**
 * A real Linux guest (Debian kernel + busybox initramfs from scripts/build-guest.sh) proves what
 * a firmware-only VM cannot: guest memory survives a live migration and a snapshot revert, and
 * the guest itself answers the ACPI power button. One boot serves the whole chain (~7 s under TCG).
 */
describe('qemu driver: a real Linux guest', () => {
  const env = new QemuTestEnv();
  const consoles: GuestConsole[] = [];
  let guest: GuestImage;
  after(async () => {
    for (const c of consoles) c.close();
    await env.cleanup();
  });
  before(() => {
    guest = ensureGuest();
  });

  test('boot, live-migrate with its memory, revert a memory snapshot, then power off through ACPI', async () => {
    // Both hosts have the guest in their image catalog: the target boots the same kernel.
    const a = env.driver('guest-a', { params: { images: guest.imagesDir } });
    const b = env.driver('guest-b', { params: { images: guest.imagesDir } });
    const spec = vmSpec({ memoryMiB: 128, image: guest.image });
    await a.define(spec);

    const t0 = Date.now();
    await a.start(spec);
    await waitForLog(a.domainPaths(spec.id).serialLog, 'GUEST-READY', 90_000);
    const bootMs = Date.now() - t0;
    const onA = await GuestConsole.connect(a.domainPaths(spec.id).serialSocket);
    consoles.push(onA);
    await onA.run('echo 5 > /tmp/counter');
    assert.equal(await onA.run('cat /tmp/counter'), '5');

    const t1 = Date.now();
    const endpoint = await b.prepareIncoming(spec, { live: true });
    await a.migrate(spec, endpoint, { live: true });
    await b.finishIncoming(spec, { live: true });
    const migrateMs = Date.now() - t1;
    onA.close();
    assert.equal((await a.status(spec)).state, 'absent');
    const onB = await GuestConsole.connect(b.domainPaths(spec.id).serialSocket);
    consoles.push(onB);
    assert.equal(await onB.run('cat /tmp/counter'), '5', 'guest RAM (tmpfs) must arrive on the target');

    const t2 = Date.now();
    await b.snapshot(spec, 'five', { memory: true });
    const snapMs = Date.now() - t2;
    await onB.run('echo 6 > /tmp/counter');
    assert.equal(await onB.run('cat /tmp/counter'), '6');
    const t3 = Date.now();
    assert.equal(await b.revert(spec, 'five'), 'running');
    const revertMs = Date.now() - t3;
    assert.equal(await onB.run('cat /tmp/counter'), '5', 'revert must bring back the memory of the snapshot');

    const t4 = Date.now();
    await b.stop(spec, { force: false, timeoutMs: 60_000 });
    const stopMs = Date.now() - t4;
    assert.ok(stopMs < 20_000, `ACPI shutdown took ${stopMs} ms`);
    assert.deepEqual(await b.status(spec), {
      state: 'stopped',
      detail: 'stopped by the driver (guest powered off via ACPI)',
    });
    const serial = readFileSync(b.domainPaths(spec.id).serialLog, 'utf8');
    assert.match(serial, /GUEST-POWEROFF/, 'acpid in the guest ran the power-button script');
    assert.match(serial, /reboot: Power down/);
    console.log(
      `[timing] guest boot to GUEST-READY ${bootMs} ms, live migration (NBD, 128 MiB) ${migrateMs} ms, ` +
        `memory snapshot ${snapMs} ms, revert ${revertMs} ms, ACPI stop ${stopMs} ms`,
    );
    await b.destroy(spec);
  });
});
