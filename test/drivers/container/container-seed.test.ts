/**
 * User data for containers (issue #15 item 1): a real user-namespaced runc container reads its
 * NoCloud seed at /var/lib/cloud/seed/nocloud, as cloud-init in a system container does; an
 * image that plants a symlink on that path to reach the host is refused, the host file untouched.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { writeContainerSeed } from '../../../src/drivers/container/container-seed.js';
import { DriverError } from '../../../src/drivers/hypervisor-driver.port.js';
import { tempDir } from '../../support/env.js';
import { ContainerTestEnv, confined, containerSkipReason, vmSpec } from './container-test-env.js';

const skip = containerSkipReason();
const INIT = '#!/bin/sh\ntrap "exit 0" TERM\nwhile :; do sleep 3600 & wait $!; done\n';

describe('container NoCloud seed', { skip }, () => {
  const env = new ContainerTestEnv('vl-ct-seed-');
  const driver = env.driver(env.hostId('ct-seed'));
  const outside = tempDir('vl-ct-seed-host-');
  after(async () => {
    await env.cleanup();
    outside.cleanup();
  });

  test('the container reads its user-data and meta-data (instance id, hostname, keys) as its own root', async () => {
    const userData = '#cloud-config\nruncmd:\n  - echo seeded-by-virtledger\n';
    const spec = vmSpec({ name: 'seeded', userData, sshKeys: ['ssh-ed25519 AAAAC3Nz test@virtledger'] });
    await driver.define(spec);
    await driver.start(spec);
    const r = confined(
      driver,
      spec.id,
      'cat /var/lib/cloud/seed/nocloud/user-data; echo ---; cat /var/lib/cloud/seed/nocloud/meta-data; echo ---; stat -c "%u %a" /var/lib/cloud/seed/nocloud/user-data',
    );
    assert.equal(r.status, 0, r.out);
    const [ud, md, st] = r.out.split('---\n');
    assert.equal(ud, userData);
    assert.match(
      md!,
      new RegExp(
        `^instance-id: "${spec.id}"\nlocal-hostname: "seeded"\npublic-keys:\n  - "ssh-ed25519 AAAAC3Nz test@virtledger"\n$`,
      ),
    );
    // Owned by the container's root (uid 0 inside its user namespace), readable by it alone.
    assert.equal(st!.trim(), '0 600');
  });

  test('no user data, no seed directory', async () => {
    const spec = vmSpec({ name: 'plain' });
    await driver.define(spec);
    await driver.start(spec);
    const r = confined(driver, spec.id, 'test -e /var/lib/cloud/seed/nocloud && echo present || echo absent');
    assert.equal(r.out.trim(), 'absent');
  });

  test('an image whose /var/lib/cloud is a symlink to a host dir is refused; the host dir stays empty', async () => {
    const image = await env.image('planted', INIT);
    rmSync(join(image, 'var'), { recursive: true, force: true });
    mkdirSync(join(image, 'var', 'lib'), { recursive: true });
    symlinkSync(outside.dir, join(image, 'var', 'lib', 'cloud'));
    const target = join(outside.dir, 'seed', 'nocloud', 'user-data');
    const spec = vmSpec({ name: 'planted', image: 'planted', userData: '#cloud-config\n' });
    await assert.rejects(driver.define(spec), (err: unknown) => {
      assert.ok(err instanceof DriverError, String(err));
      assert.equal(err.code, 'invalid');
      assert.match(err.message, /var\/lib\/cloud\/seed\/nocloud passes through .*\/var\/lib\/cloud, not a directory/);
      return true;
    });
    assert.equal(existsSync(target), false, 'nothing written through the link');
    assert.equal(existsSync(join(outside.dir, 'seed')), false);
    // The refused create leaves the VM failed; deleting it removes what define made, its mounted disk too.
    await driver.destroy(spec);
    assert.equal(readFileSync('/proc/self/mountinfo', 'utf8').includes(spec.id), false, 'its disk is unmounted');
  });

  test('a planted user-data symlink inside a real seed dir is replaced, its target untouched', async () => {
    const image = await env.image('planted-file', INIT);
    const seedDir = join(image, 'var', 'lib', 'cloud', 'seed', 'nocloud');
    mkdirSync(seedDir, { recursive: true });
    const victim = join(outside.dir, 'victim');
    writeFileSync(victim, 'host secret\n');
    symlinkSync(victim, join(seedDir, 'user-data'));
    const spec = vmSpec({ name: 'planted-file', image: 'planted-file', userData: '#cloud-config\n# mine\n' });
    await driver.define(spec);
    await driver.start(spec);
    assert.equal(readFileSync(victim, 'utf8'), 'host secret\n');
    const r = confined(driver, spec.id, 'cat /var/lib/cloud/seed/nocloud/user-data');
    assert.equal(r.out, '#cloud-config\n# mine\n');
  });

  test('a container with NICs also gets network-config for its MACs and addresses', () => {
    const root = join(outside.dir, 'rootfs-nics');
    mkdirSync(root);
    const nic = {
      networkId: 'n1',
      mac: '52:54:00:0a:0b:0c',
      ip: '10.62.0.2',
      prefixLength: 24,
      gateway: '10.62.0.1',
      cidr: '10.62.0.0/24',
      nat: false,
      vni: 1000,
    };
    writeContainerSeed(root, vmSpec({ name: 'nics', nics: [nic] }));
    const config = readFileSync(join(root, 'var/lib/cloud/seed/nocloud/network-config'), 'utf8');
    assert.ok(config.includes('macaddress: "52:54:00:0a:0b:0c"'), config);
    assert.ok(config.includes('- "10.62.0.2/24"'), config);
  });
});
