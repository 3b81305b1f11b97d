import 'reflect-metadata';
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { DriverError } from '../../src/drivers/hypervisor-driver.port.js';
import { createDriver, driverCapabilities, type HostPolicy } from '../../src/drivers/driver-registry.js';
import { loadConfig } from '../../src/config/config.js';
import { tempDir } from '../support/env.js';

/**
 * Issue #12.3: a host URI is an admin's input that reaches a worker running as root. Its
 * directories must lie under HOST_DIR_ROOTS and libvirt transports that run programs are refused,
 * by both registry entry points (the API's capability check and the worker's driver).
 */
describe('driver registry: host URIs on an allow-list', () => {
  const { dir: root, cleanup } = tempDir('vl-policy-');
  after(cleanup);
  const policy: HostPolicy = { hostDirRoots: [root], allowUnsafeLibvirtUris: false };
  mkdirSync(join(root, 'real'), { recursive: true });
  symlinkSync('/etc', join(root, 'link-to-etc'));

  /** Both entry points refuse `uri` with a DriverError `invalid` whose message names `param`. */
  function refusedByBoth(kind: string, uri: string, param: RegExp, p: HostPolicy = policy): void {
    const invalid = (err: unknown): boolean => {
      assert.ok(err instanceof DriverError, String(err));
      assert.equal(err.code, 'invalid');
      assert.match(err.message, param);
      return true;
    };
    assert.throws(() => driverCapabilities(kind, uri, p), invalid, `${uri}: capabilities`);
    const binding = { id: 'h-policy', driver: kind, uri, storageDir: join(root, 'h-policy') };
    assert.throws(() => createDriver(binding, p), invalid, `${uri}: createDriver`);
  }

  test('qemu: storage=, images= and a qemuBinary path outside HOST_DIR_ROOTS are refused', () => {
    refusedByBoth('qemu', 'qemu:///system?storage=/etc', /storage=\/etc/);
    refusedByBoth('qemu', `qemu:///system?storage=${root}/real&images=/etc`, /images=\/etc/);
    refusedByBoth('qemu', 'qemu:///system?qemuBinary=/bin/sh', /qemuBinary=\/bin\/sh/);
    refusedByBoth('qemu', 'qemu:///system?qemuBinary=sh', /qemuBinary=sh/);
  });

  test('a directory is judged after symlinks: a link under the root that leads out is refused', () => {
    refusedByBoth('qemu', `qemu:///system?storage=${root}/link-to-etc`, /storage=/);
    refusedByBoth('qemu', `qemu:///system?storage=${root}/link-to-etc/not-made-yet`, /storage=/);
    refusedByBoth('qemu', `qemu:///system?storage=${root}/../etc`, /storage=/);
  });

  test('directories under the roots (made yet or not) are accepted', () => {
    const uri = `qemu:///system?accel=tcg&storage=${root}/real/vms&images=${root}/real&qemuBinary=qemu-system-x86_64`;
    assert.equal(driverCapabilities('qemu', uri, policy).liveMigration, true);
    const d = createDriver({ id: 'h-ok', driver: 'qemu', uri, storageDir: join(root, 'h-ok') }, policy);
    assert.equal(d.kind, 'qemu');
  });

  test('container: storage=, images= and busybox= outside HOST_DIR_ROOTS are refused', () => {
    refusedByBoth('container', 'container:///?storage=/etc', /storage=\/etc/);
    refusedByBoth('container', `container:///?images=${root}/real&images=/etc`, /images=\/etc/);
    refusedByBoth('container', 'container:///?busybox=/bin/sh', /busybox=\/bin\/sh/);
  });

  test('libvirt: storage= and images= outside HOST_DIR_ROOTS are refused', () => {
    refusedByBoth('libvirt', 'qemu:///system?storage=/etc', /storage=\/etc/);
    refusedByBoth('libvirt', 'qemu:///system?images=/etc', /images=\/etc/);
  });

  test('libvirt: transports that run programs are refused, with or without a policy', () => {
    const noDirs: HostPolicy = { hostDirRoots: [], allowUnsafeLibvirtUris: false };
    for (const p of [policy, noDirs]) {
      refusedByBoth('libvirt', 'qemu+ext:///system?command=/tmp/x.sh', /\+ext/, p);
      refusedByBoth('libvirt', 'qemu+unix:///system?socket=/tmp/other.sock', /socket=/, p);
      refusedByBoth('libvirt', 'qemu+ssh://root@hv2/system?netcat=/tmp/nc', /netcat=/, p);
      refusedByBoth('libvirt', 'qemu+tls://hv2/system?no_verify=1', /no_verify=/, p);
    }
    assert.throws(() => driverCapabilities('libvirt', 'qemu+ext:///system?command=/tmp/x.sh'), /\+ext/);
  });

  test('an administrator may allow the unsafe libvirt transports (LIBVIRT_ALLOW_UNSAFE_URIS=1)', () => {
    const allow: HostPolicy = { ...policy, allowUnsafeLibvirtUris: true };
    assert.equal(driverCapabilities('libvirt', 'qemu+ext:///system?command=/tmp/x.sh', allow).pause, true);
    assert.equal(driverCapabilities('libvirt', 'qemu+tls://hv2/system?no_verify=1', allow).pause, true);
  });

  test('the settings: HOST_DIR_ROOTS (default DATA_DIR) and LIBVIRT_ALLOW_UNSAFE_URIS; the config is the policy', () => {
    const byDefault = loadConfig({ DATA_DIR: root });
    assert.deepEqual(byDefault.hostDirRoots, [root]);
    assert.equal(byDefault.allowUnsafeLibvirtUris, false);
    assert.ok(driverCapabilities('qemu', `qemu:///system?storage=${root}/real`, byDefault));
    assert.throws(() => driverCapabilities('qemu', 'qemu:///system?storage=/srv/vms', byDefault), /storage=/);
    const wider = loadConfig({ DATA_DIR: root, HOST_DIR_ROOTS: `${root},/srv`, LIBVIRT_ALLOW_UNSAFE_URIS: '1' });
    assert.deepEqual(wider.hostDirRoots, [root, '/srv']);
    assert.ok(driverCapabilities('qemu', 'qemu:///system?storage=/srv/vms', wider));
    assert.ok(driverCapabilities('libvirt', 'qemu+ext:///system?command=/srv/x', wider));
    assert.throws(() => loadConfig({ HOST_DIR_ROOTS: 'relative' }), /HOST_DIR_ROOTS/);
  });
});
