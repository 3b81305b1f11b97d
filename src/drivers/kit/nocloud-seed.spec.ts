import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { seedMetaData, wantsSeed } from './nocloud-seed.js';

describe('NoCloud seed', () => {
  test('only a VM with userData or sshKeys gets one', () => {
    assert.equal(wantsSeed({}), false);
    assert.equal(wantsSeed({ sshKeys: [] }), false);
    assert.equal(wantsSeed({ userData: '#cloud-config\n' }), true);
    assert.equal(wantsSeed({ sshKeys: ['ssh-ed25519 AAAA k'] }), true);
  });

  test('meta-data quotes every value, so a name or key comment cannot add YAML keys', () => {
    const md = seedMetaData({ id: 'vm-1', name: 'web: 1', sshKeys: ['ssh-ed25519 AAAA a\\nb: c'] });
    assert.equal(
      md,
      'instance-id: "vm-1"\nlocal-hostname: "web: 1"\npublic-keys:\n  - "ssh-ed25519 AAAA a\\\\nb: c"\n',
    );
  });
});
