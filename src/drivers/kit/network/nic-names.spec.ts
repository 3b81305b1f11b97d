import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DriverError, type DriverNic } from '../../hypervisor-driver.port.js';
import { dnsmasqArgs } from './dnsmasq.js';
import { assertNic, bridgeName, cidrParts, gatewayMac, tapName, vxlanGroup, vxlanName } from './nic-names.js';

const good: DriverNic = {
  networkId: 'net-1',
  mac: '52:54:00:12:34:56',
  ip: '10.20.30.5',
  prefixLength: 24,
  gateway: '10.20.30.1',
  cidr: '10.20.30.0/24',
  nat: true,
  vni: 4242,
};

describe('network names and NIC checks', () => {
  test('host-side names are derived, fit an interface name, and differ per network/VM', () => {
    for (const name of [bridgeName('net-1'), vxlanName('net-1'), tapName('vm-1', 0)]) {
      assert.ok(Buffer.byteLength(name) <= 15, name);
      assert.match(name, /^vl(br|vx|tap)-[0-9a-f]{8}$/);
    }
    assert.notEqual(bridgeName('net-1'), bridgeName('net-2'));
    assert.notEqual(tapName('vm-1', 0), tapName('vm-1', 1));
    assert.equal(bridgeName('../../etc'), bridgeName('../../etc')); // whatever the id, a hash
    assert.match(gatewayMac('net-1'), /^02(:[0-9a-f]{2}){5}$/);
    assert.equal(gatewayMac('net-1'), gatewayMac('net-1'));
    assert.equal(vxlanGroup(0x010203), '239.1.2.3');
    assert.deepEqual(cidrParts('10.20.30.0/24'), { base: '10.20.30.0', prefixLength: 24, netmask: '255.255.255.0' });
  });

  test('a well-formed NIC passes; every malformed field is refused by name', () => {
    assert.equal(assertNic(good, 'nics[0]'), good);
    const cases: [Partial<DriverNic>, RegExp][] = [
      [{ mac: '52:54:00:12:34' }, /nics\[0\]\.mac/],
      [{ mac: '01:00:5e:00:00:01' }, /nics\[0\]\.mac: .* multicast/],
      [{ mac: '52:54:00:12:34:56\n--conf-file=/etc/x' }, /nics\[0\]\.mac/],
      [{ ip: '10.20.31.5' }, /nics\[0\]\.ip: .* outside/],
      [{ ip: '10.20.30.1' }, /nics\[0\]\.ip: .* gateway/],
      [{ ip: '10.20.30.5 masquerade' }, /nics\[0\]\.ip/],
      [{ gateway: '999.1.1.1' }, /nics\[0\]\.gateway/],
      [{ cidr: '10.20.30.4/24' }, /nics\[0\]\.cidr: .* host bits/],
      [{ cidr: '10.20.30.0/24; flush ruleset' }, /nics\[0\]\.cidr/],
      [{ prefixLength: 16 }, /nics\[0\]\.prefixLength/],
      [{ vni: 0 }, /nics\[0\]\.vni/],
      [{ vni: 0x1000000 }, /nics\[0\]\.vni/],
      [{ networkId: '' }, /nics\[0\]\.networkId/],
    ];
    for (const [change, message] of cases) {
      assert.throws(
        () => assertNic({ ...good, ...change }, 'nics[0]'),
        (err: unknown) => err instanceof DriverError && err.code === 'invalid' && message.test(err.message),
        JSON.stringify(change),
      );
    }
  });

  test('dnsmasq answers only known MACs on its bridge, serves no DNS, and forces the overlay MTU', () => {
    const args = dnsmasqArgs({
      bridge: 'vlbr-00000000',
      base: '10.20.30.0',
      netmask: '255.255.255.0',
      hostsFile: '/run/h',
      pidFile: '/run/p',
      mtu: 1450,
    });
    for (const a of [
      '--bind-interfaces',
      '--interface=vlbr-00000000',
      '--except-interface=lo',
      '--dhcp-ignore=tag:!known',
      '--port=0',
      '--dhcp-range=10.20.30.0,static,255.255.255.0,1h',
      '--dhcp-hostsfile=/run/h',
      '--dhcp-option-force=option:mtu,1450',
    ]) {
      assert.ok(args.includes(a), a);
    }
  });
});
