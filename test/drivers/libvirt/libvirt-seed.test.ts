/**
 * User data on a libvirt host (issue #15 item 1), with the real libvirtd: the NoCloud seed the
 * driver builds is attached read-only as vdb of the running domain, carries the `cidata` label
 * and the user's data, and is gone with the VM.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { libvirtSkipReason, libvirtSuite, virshSync, vmSpec } from './libvirt-test-env.js';

const skip = libvirtSkipReason() ?? false;

describe('libvirt: the NoCloud seed on a running domain (real libvirtd)', { skip, timeout: 300_000 }, () => {
  const s = libvirtSuite('lvseed', { guest: true });

  test('userData and sshKeys: a read-only cidata ISO as vdb of the running domain; destroy removes it', async () => {
    const marker = `VL-LIBVIRT-SEED-${Date.now()}`;
    const spec = vmSpec({
      image: s.image,
      userData: `#cloud-config\n# ${marker}\n`,
      sshKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBvirtledgerseedtestkey0000000000000000000 seed@libvirt'],
    });
    const name = s.d.domainName(spec.id);
    await s.d.define(spec);
    await s.d.start(spec);
    assert.equal(virshSync(s.daemons.uri, ['domstate', name]).trim(), 'running');
    const disks = virshSync(s.daemons.uri, ['domblklist', name, '--details'])
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter((cols) => cols.length === 4 && cols[0] === 'file');
    const seed = disks.find((cols) => cols[2] === 'vdb');
    assert.ok(seed, `vdb attached: ${JSON.stringify(disks)}`);
    const iso = seed[3]!;
    assert.match(iso, /seed\.iso$/);
    assert.match(virshSync(s.daemons.uri, ['dumpxml', name]), /<source file='[^']*seed\.iso'[^]*?<readonly\/>/);
    const bytes = readFileSync(iso);
    // ISO 9660 keeps the volume label at byte 32808: cloud-init's NoCloud finds the seed by it.
    assert.equal(bytes.subarray(32808, 32814).toString('latin1'), 'cidata');
    const text = bytes.toString('latin1');
    assert.ok(text.includes(marker), 'user-data on the seed');
    assert.ok(text.includes('seed@libvirt'), 'the key in meta-data');
    assert.ok(text.includes(`instance-id: "${spec.id}"`), 'meta-data names the instance');

    await s.d.destroy(spec);
    assert.equal(existsSync(iso), false, 'the seed went with the VM');
  });

  test('no user data: no seed disk', async () => {
    const spec = vmSpec({ image: s.image });
    await s.d.define(spec);
    const xml = virshSync(s.daemons.uri, ['dumpxml', s.d.domainName(spec.id)]);
    assert.doesNotMatch(xml, /seed\.iso/);
    await s.d.destroy(spec);
  });
});
