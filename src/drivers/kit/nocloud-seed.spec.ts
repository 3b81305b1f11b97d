import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { seedNetworkConfig } from './nocloud-network.js';
import { seedMetaData, wantsSeed } from './nocloud-seed.js';

const nic = {
  networkId: 'n1',
  mac: '52:54:00:00:00:01',
  ip: '10.0.0.2',
  prefixLength: 24,
  gateway: '10.0.0.1',
  cidr: '10.0.0.0/24',
  nat: true,
  vni: 1000,
};

describe('NoCloud seed', () => {
  test('only a VM with userData or sshKeys gets one', () => {
    assert.equal(wantsSeed({}), false);
    assert.equal(wantsSeed({ sshKeys: [] }), false);
    assert.equal(wantsSeed({ userData: '#cloud-config\n' }), true);
    assert.equal(wantsSeed({ sshKeys: ['ssh-ed25519 AAAA k'] }), true);
    assert.equal(wantsSeed({ nics: [nic] }), true);
  });

  test('network-config: each NIC matched by its MAC with its static address; the default route on the first only', () => {
    assert.equal(
      seedNetworkConfig([nic, { ...nic, mac: '52:54:00:00:00:02', ip: '10.9.0.7', gateway: '10.9.0.1' }]),
      [
        'version: 2',
        'ethernets:',
        '  nic0:',
        '    match:',
        '      macaddress: "52:54:00:00:00:01"',
        '    set-name: "eth0"',
        '    addresses:',
        '      - "10.0.0.2/24"',
        '    routes:',
        '      - to: "0.0.0.0/0"',
        '        via: "10.0.0.1"',
        '  nic1:',
        '    match:',
        '      macaddress: "52:54:00:00:00:02"',
        '    set-name: "eth1"',
        '    addresses:',
        '      - "10.9.0.7/24"',
        '',
      ].join('\n'),
    );
  });

  test('meta-data quotes every value, so a name or key comment cannot add YAML keys', () => {
    const md = seedMetaData({ id: 'vm-1', name: 'web: 1', sshKeys: ['ssh-ed25519 AAAA a\\nb: c'] });
    assert.equal(
      md,
      'instance-id: "vm-1"\nlocal-hostname: "web: 1"\npublic-keys:\n  - "ssh-ed25519 AAAA a\\\\nb: c"\n',
    );
  });
});
