/**
 * Issue #12's reproductions, through the API as an attacker would send them: another VM's
 * disk, host files and host folders as a VM's image, and host URIs that name a directory
 * outside HOST_DIR_ROOTS or a libvirt transport that runs a program. Each is a 400 naming
 * the field, the same answer whether a path exists or not, and nothing is appended.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { logLength, registerHost, settledLogLength, startTestApp, type TestApp } from '../support/app.js';
import { tempDir } from '../support/env.js';
import { assertError } from '../support/e2e.js';

describe('trust boundaries at the API: images from the catalog, host URIs on the allow-list', () => {
  let t: TestApp;
  const storage = tempDir('vl-trust-');
  let hostId = '';

  before(async () => {
    // Only the temp dir is an allowed root here, so /etc and friends are outside it.
    t = await startTestApp({ env: { HOST_DIR_ROOTS: storage.dir } });
    mkdirSync(join(storage.dir, '.images'), { recursive: true });
    hostId = await registerHost(t, {
      name: 'hv-trust',
      driver: 'qemu',
      uri: `qemu:///system?storage=${storage.dir}&accel=tcg`,
      capacity: { vcpus: 8, memoryMiB: 8192 },
    });
  });
  after(async () => {
    await t?.close();
    storage.cleanup();
  });

  const create = (image: string) =>
    t.as('operator').post('/v1/vms', { name: 'thief', vcpus: 1, memoryMiB: 64, diskGiB: 1, hostId, image });

  test("another VM's disk as the image is refused before any event", async () => {
    const victim = join(storage.dir, '00000000-0000-4000-8000-000000000001', 'disk.qcow2');
    const before = await settledLogLength(t);
    const res = await create(victim);
    assertError(res, 400, 'image');
    assert.match(res.body.message, /not in this host's image catalog/);
    assert.equal(await logLength(t), before, 'nothing appended');
  });

  test('/etc/shadow and /etc/nonexistent get the same answer (no existence oracle)', async () => {
    const before = await settledLogLength(t);
    const [a, b] = [await create('/etc/shadow'), await create('/etc/nonexistent')];
    assertError(a, 400, 'image');
    assertError(b, 400, 'image');
    assert.equal(a.body.message.replace('shadow', 'X'), b.body.message.replace('nonexistent', 'X'));
    assert.equal(await logLength(t), before);
  });

  test('kernel:<any host dir> is refused (a catalog image by name is accepted: test/api/images.test.ts)', async () => {
    assertError(await create('kernel:/boot'), 400, 'image');
  });

  test('a plain name must be a catalog image: an unknown one is refused before any event', async () => {
    const before = await settledLogLength(t);
    const res = await create('base.qcow2');
    assertError(res, 400, 'image');
    assert.match(res.body.message, /names no image in the catalog/);
    assert.equal(await logLength(t), before, 'nothing appended');
  });

  test('host URIs: a storage dir outside HOST_DIR_ROOTS and libvirt transports that run programs are refused', async () => {
    const before = await settledLogLength(t);
    for (const [driver, uri] of [
      ['qemu', 'qemu:///system?storage=/etc'],
      ['container', 'container:///?busybox=/bin/sh'],
      ['libvirt', 'qemu+ext:///system?command=/tmp/x.sh'],
      ['libvirt', 'qemu+ssh://root@hv2/system?netcat=/tmp/nc'],
      ['libvirt', 'qemu:///system?images=/etc'],
    ]) {
      const res = await t
        .as('admin')
        .post('/v1/hosts', { name: `bad-${before}`, driver, uri, capacity: { vcpus: 1, memoryMiB: 512 } });
      assertError(res, 400, 'uri');
    }
    assert.equal(await logLength(t), before, 'no host registered');
  });
});
