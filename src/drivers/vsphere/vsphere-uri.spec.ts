import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parseVsphereUri, readPassword, vsphereCapabilities } from './vsphere-uri.js';

const BASE = 'vsphere://admin@vc.example:8443/?datacenter=DC1&cluster=Gold&host=esx-01&datastore=ssd';

describe('vsphere host URI', () => {
  test('names the vCenter, the user and where VMs go; https unless transport=http', () => {
    const c = parseVsphereUri(BASE);
    assert.equal(c.sdkUrl, 'https://vc.example:8443/sdk');
    assert.equal(c.user, 'admin');
    assert.deepEqual([c.datacenter, c.cluster, c.host, c.datastore], ['DC1', 'Gold', 'esx-01', 'ssd']);
    assert.equal(c.insecure, false);
    assert.equal(parseVsphereUri(`${BASE}&transport=http`).sdkUrl, 'http://vc.example:8443/sdk');
  });

  test('a password in the URI is refused, and the refusal does not repeat it', () => {
    assert.throws(
      () => parseVsphereUri('vsphere://admin:hunter2@vc.example/?datacenter=DC1&host=esx-01'),
      (err: Error) => {
        assert.match(err.message, /must not carry a password/);
        assert.doesNotMatch(err.message, /hunter2/);
        return true;
      },
    );
  });

  test('refuses what it cannot use: no user, no host, unknown parameters, a relative password file', () => {
    assert.throws(() => parseVsphereUri('vsphere://vc.example/?datacenter=DC1&host=h'), /names the user/);
    assert.throws(() => parseVsphereUri('vsphere://u@vc.example/?datacenter=DC1'), /needs host=/);
    assert.throws(() => parseVsphereUri(`${BASE}&pasword=x`), /unknown vsphere URI parameter pasword/);
    assert.throws(() => parseVsphereUri(`${BASE}&passwordFile=secret.txt`), /absolute/);
    assert.throws(() => parseVsphereUri(`${BASE}&transport=ftp`), /transport/);
  });

  test('capabilities: everything, less what disable= switches off', () => {
    assert.equal(Object.values(vsphereCapabilities(BASE)).every(Boolean), true);
    const caps = vsphereCapabilities(`${BASE}&disable=pause,liveMigration`);
    assert.equal(caps.pause, false);
    assert.equal(caps.liveMigration, false);
    assert.equal(caps.coldMigration, true);
    assert.throws(() => vsphereCapabilities(`${BASE}&disable=teleport`), /not a capability/);
  });

  test('the password comes from passwordFile=, else VSPHERE_PASSWORD_FILE, else VSPHERE_PASSWORD', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vl-vsphere-uri-'));
    try {
      const a = join(dir, 'a');
      const b = join(dir, 'b');
      writeFileSync(a, 'from-uri-file\n');
      writeFileSync(b, 'from-env-file');
      const env = { VSPHERE_PASSWORD_FILE: b, VSPHERE_PASSWORD: 'from-env' };
      assert.equal(readPassword(parseVsphereUri(`${BASE}&passwordFile=${a}`), env), 'from-uri-file');
      assert.equal(readPassword(parseVsphereUri(BASE), env), 'from-env-file');
      assert.equal(readPassword(parseVsphereUri(BASE), { VSPHERE_PASSWORD: 'from-env' }), 'from-env');
      assert.throws(() => readPassword(parseVsphereUri(BASE), {}), /no vSphere password/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
