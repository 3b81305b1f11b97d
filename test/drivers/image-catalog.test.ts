import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { DriverError, type HypervisorDriver, type VmSpec } from '../../src/drivers/hypervisor-driver.port.js';
import { imageRefusal, kernelBootOf } from '../../src/drivers/kit/image-catalog.js';
import { imageRefusalFor } from '../../src/drivers/driver-registry.js';
import { createQcow2 } from '../../src/drivers/kit/qemu-img.js';
import { LibvirtDriver } from '../../src/drivers/libvirt/libvirt.driver.js';
import { QemuDriver } from '../../src/drivers/qemu/qemu.driver.js';
import { tempDir } from '../support/env.js';

/**
 * The attacks of issue #12.2, reproduced against each VM driver: a tenant's `image` must name
 * something in the host's image catalog, never another VM's disk, a host file or a host folder.
 */
interface Target {
  driver: HypervisorDriver;
  vmDir(vmId: string): string;
  /** The disk of a VM of someone else on this host. */
  victimDisk(): Promise<string>;
}

let n = 0;
function spec(image?: string): VmSpec {
  const id = `cat-${process.pid}-${++n}`;
  return { id, name: id, vcpus: 1, memoryMiB: 64, diskGiB: 1, ...(image === undefined ? {} : { image }) };
}

async function refusal(driver: HypervisorDriver, image: string): Promise<DriverError> {
  try {
    await driver.define(spec(image));
  } catch (err) {
    assert.ok(err instanceof DriverError, `${image}: ${String(err)}`);
    return err;
  }
  return assert.fail(`${image} was accepted`);
}

/** The message with the image it echoes taken out: what is left must not depend on the host's files. */
function shape(err: DriverError, image: string): string {
  return `${err.code}: ${err.message.split(JSON.stringify(image)).join('<image>')}`;
}

function catalogSuite(kind: string, make: (root: string, imagesDir: string) => Target): void {
  describe(`${kind}: images only from the host's catalog`, () => {
    const { dir: root, cleanup } = tempDir(`vl-catalog-${kind}-`);
    chmodSync(root, 0o711); // libvirt's QEMU user must be able to reach the storage below it
    after(cleanup);
    const imagesDir = join(root, 'images');
    const outside = join(root, 'outside');
    mkdirSync(imagesDir, { recursive: true });
    mkdirSync(outside, { recursive: true });
    writeFileSync(join(outside, 'vmlinuz'), 'not really a kernel');
    writeFileSync(join(outside, 'cmdline'), 'init=/bin/sh secret-of-the-host');
    const t = make(root, imagesDir);

    test("another VM's disk is refused as a base image, and nothing is made for the attacker", async () => {
      const victim = await t.victimDisk();
      assert.ok(existsSync(victim));
      const s = spec(victim);
      await assert.rejects(t.driver.define(s), (err) => err instanceof DriverError && err.code === 'invalid');
      assert.equal(existsSync(t.vmDir(s.id)), false, 'no folder, no overlay on the victim');
    });

    test('/etc/shadow and /etc/nonexistent get the same answer (no existence oracle)', async () => {
      for (const [present, absent] of [
        ['/etc/shadow', '/etc/nonexistent-vl'],
        ['kernel:/etc', 'kernel:/nonexistent-vl'],
        [`${outside}/vmlinuz`, `${outside}/nothing-here`],
      ] as const) {
        const a = await refusal(t.driver, present);
        const b = await refusal(t.driver, absent);
        assert.equal(a.code, 'invalid', present);
        assert.equal(shape(a, present), shape(b, absent));
      }
    });

    test('kernel:<dir> outside the catalog is refused, and its cmdline is never read', async () => {
      const err = await refusal(t.driver, `kernel:${outside}`);
      assert.equal(err.code, 'invalid');
      assert.doesNotMatch(err.message, /secret-of-the-host/);
    });

    test('a symlink inside the catalog that points out of it is refused', async () => {
      const victim = await t.victimDisk();
      symlinkSync(victim, join(imagesDir, `evil-${kind}`));
      symlinkSync(outside, join(imagesDir, `evil-kernel-${kind}`));
      mkdirSync(join(imagesDir, `half-${kind}`));
      symlinkSync(join(outside, 'vmlinuz'), join(imagesDir, `half-${kind}`, 'vmlinuz'));
      for (const image of [
        `evil-${kind}`,
        join(imagesDir, `evil-${kind}`),
        `kernel:${join(imagesDir, `evil-kernel-${kind}`)}`,
        `kernel:${join(imagesDir, `half-${kind}`)}`,
      ]) {
        assert.equal((await refusal(t.driver, image)).code, 'invalid', image);
      }
    });

    test('a define that fails after making the folder leaves no VM folder behind', async () => {
      // A raw file is a readable image but no qcow2 backing: qemu-img create fails after the folder is made.
      writeFileSync(join(imagesDir, `raw-${kind}`), Buffer.alloc(1024 * 1024));
      const s = spec(`raw-${kind}`);
      await assert.rejects(t.driver.define(s), (err) => err instanceof DriverError && err.code === 'failed');
      assert.equal(existsSync(t.vmDir(s.id)), false);
    });
  });
}

catalogSuite('qemu', (root, imagesDir) => {
  const driver = new QemuDriver({
    id: 'cat-q',
    driver: 'qemu',
    uri: `qemu:///system?accel=tcg&images=${imagesDir}`,
    storageDir: join(root, 'storage'),
  });
  const victim = spec();
  return {
    driver,
    vmDir: (id) => driver.domainPaths(id).vmDir,
    async victimDisk() {
      if (!existsSync(driver.domainPaths(victim.id).disk)) await driver.define(victim);
      return driver.domainPaths(victim.id).disk;
    },
  };
});

// Every refusal comes before the first virsh call, so no libvirtd is needed; test:/// answers the rest.
catalogSuite('libvirt', (root, imagesDir) => {
  const driver = new LibvirtDriver({
    id: 'cat-l',
    driver: 'libvirt',
    uri: `test:///default?images=${imagesDir}`,
    storageDir: join(root, 'storage'),
  });
  return {
    driver,
    vmDir: (id) => driver.files(id).vmDir,
    async victimDisk() {
      const disk = driver.files('victim').disk;
      if (!existsSync(disk)) {
        mkdirSync(driver.files('victim').vmDir, { recursive: true });
        await createQcow2(disk, 1024 ** 3);
      }
      return disk;
    },
  };
});

describe('image catalog: the kit functions', () => {
  const { dir: root, cleanup } = tempDir('vl-catalog-kit-');
  after(cleanup);

  test('a kernel dir inside the catalog boots with its own cmdline and initrd', () => {
    const k = join(root, 'images', 'guest');
    mkdirSync(k, { recursive: true });
    writeFileSync(join(k, 'vmlinuz'), 'k');
    writeFileSync(join(k, 'initrd.gz'), 'i');
    writeFileSync(join(k, 'cmdline'), 'console=ttyS0 quiet\n');
    assert.deepEqual(kernelBootOf(`kernel:${k}`, [join(root, 'images')]), {
      kernel: join(k, 'vmlinuz'),
      initrd: join(k, 'initrd.gz'),
      append: 'console=ttyS0 quiet',
    });
    assert.equal(kernelBootOf('base.qcow2', [join(root, 'images')]), undefined);
  });

  test('imageRefusal: the API can refuse a path outside the host catalog before any event', () => {
    const dirs = ['/srv/images'];
    assert.equal(imageRefusal('base', dirs), undefined);
    assert.equal(imageRefusal('/srv/images/base.qcow2', dirs), undefined);
    assert.equal(imageRefusal('kernel:/srv/images/guest', dirs), undefined);
    for (const image of ['/etc/shadow', '/srv/images', '/srv/images/../x', 'kernel:/boot', '/srv/imagesX/a']) {
      assert.match(imageRefusal(image, dirs) ?? '', /not in this host's image catalog/, image);
    }
    assert.match(imageRefusal('../x', dirs) ?? '', /not valid/);
  });

  test('imageRefusalFor: the catalog a host URI implies, for each driver kind', () => {
    const host = (driver: string, uri: string) => ({ id: 'h', driver, uri, storageDir: '/var/lib/vl/hosts/h' });
    const victim = '/var/lib/vl/hosts/h/victim/disk.qcow2';
    for (const [driver, uri] of [
      ['qemu', 'qemu:///system'],
      ['libvirt', 'qemu:///system'],
      ['container', 'container:///'],
    ] as const) {
      assert.match(imageRefusalFor(host(driver, uri), victim) ?? '', /not in this host's image catalog/, driver);
      assert.equal(imageRefusalFor(host(driver, uri), '/var/lib/vl/hosts/h/.images/base'), undefined, driver);
      assert.equal(imageRefusalFor(host(driver, `${uri}?images=/srv/img`), '/srv/img/base'), undefined, driver);
      assert.match(imageRefusalFor(host(driver, `${uri}?images=/srv/img`), 'kernel:/boot') ?? '', /catalog/, driver);
    }
    assert.equal(imageRefusalFor(host('container', 'container:///'), 'busybox'), undefined);
    assert.equal(imageRefusalFor(host('simulated', 'simulated://'), '/etc/shadow'), undefined);
  });
});
