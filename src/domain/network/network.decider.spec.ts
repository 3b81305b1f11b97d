import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { given } from '../../../test/support/decider-spec.js';
import { networkRegistryDecider, VNI_BASE } from './network-registry.decider.js';
import { networkDecider } from './network.decider.js';
import { macFor } from './mac.js';
import type { NetworkEvent, NetworkRegistryEvent } from './network.events.js';

const ID = 'net-1';
const created = (cidr = '10.0.0.0/29', prefixLength = 29): NetworkEvent => ({
  type: 'NetworkCreated',
  data: { networkId: ID, name: 'lan', cidr, prefixLength, gateway: '10.0.0.1', nat: true, vni: 1000 },
});
const allocated = (vmId: string, ip: string, mac: string, nicIndex = 0): NetworkEvent => ({
  type: 'NetworkAddressAllocated',
  data: { vmId, nicIndex, ip, mac, project: 'default' },
});
const network = (history: NetworkEvent[]) => given(networkDecider, history);
const alloc = (vmId: string, nicIndex = 0) =>
  ({ type: 'AllocateAddress', vmId, nicIndex, project: 'default' }) as const;

describe('network decider: create', () => {
  test('records the canonical CIDR, the gateway (first usable address) and the VNI', () => {
    network([])
      .when({ type: 'CreateNetwork', networkId: ID, name: 'lan', cidr: '10.0.0.0/29', nat: true, vni: 1000 })
      .then([created()]);
  });

  test('a bad CIDR is invalid naming cidr; the same create again is done; another is a conflict', () => {
    const err = network([])
      .when({ type: 'CreateNetwork', networkId: ID, name: 'lan', cidr: '10.0.0.1/29', nat: true, vni: 1000 })
      .thenThrows('invalid', /^cidr has host bits set/);
    assert.deepEqual(err.details, { field: 'cidr' });
    network([created()])
      .when({ type: 'CreateNetwork', networkId: ID, name: 'lan', cidr: '10.0.0.0/29', nat: true, vni: 1000 })
      .thenNothing();
    network([created()])
      .when({ type: 'CreateNetwork', networkId: ID, name: 'wan', cidr: '10.0.0.0/29', nat: true, vni: 1000 })
      .thenThrows('conflict', /already exists/);
  });
});

describe('network decider: addresses', () => {
  test('the lowest free address after the gateway, a 52:54:00 MAC derived from the NIC, the project recorded', () => {
    network([created()])
      .when(alloc('vm-a'))
      .then([allocated('vm-a', '10.0.0.2', macFor(`${ID}/vm-a/0`, new Set()))]);
    assert.match(macFor(`${ID}/vm-a/0`, new Set()), /^52:54:00(:[0-9a-f]{2}){3}$/);
  });

  test('the same NIC again decides nothing; a second NIC of the VM gets the next address and another MAC', () => {
    const history = [created(), allocated('vm-a', '10.0.0.2', '52:54:00:00:00:01')];
    network(history).when(alloc('vm-a')).thenNothing();
    const [e] = networkDecider.decide(alloc('vm-a', 1), network(history).state);
    const d = e!.data as { ip: string; mac: string };
    assert.equal(d.ip, '10.0.0.3');
    assert.notEqual(d.mac, '52:54:00:00:00:01');
  });

  test('a full network is refused as capacity naming it; nothing decided', () => {
    const full = [created()];
    for (let i = 2; i <= 6; i++) full.push(allocated(`vm-${i}`, `10.0.0.${i}`, `52:54:00:00:00:0${i}`));
    const err = network(full)
      .when(alloc('vm-x'))
      .thenThrows('capacity', /network lan \(net-1\) is full: all 5 addresses of 10\.0\.0\.0\/29 are allocated/);
    assert.equal(err.details?.networkId, ID);
  });

  test('released addresses are handed out again, lowest first', () => {
    const history: NetworkEvent[] = [
      created(),
      allocated('vm-a', '10.0.0.2', '52:54:00:00:00:01'),
      allocated('vm-b', '10.0.0.3', '52:54:00:00:00:02'),
    ];
    const s = network(history)
      .when({ type: 'ReleaseAddresses', vmId: 'vm-a' })
      .then([{ type: 'NetworkAddressesReleased', data: { vmId: 'vm-a', ips: ['10.0.0.2'] } }]);
    const [e] = networkDecider.decide(alloc('vm-c'), s);
    assert.equal((e!.data as { ip: string }).ip, '10.0.0.2');
    network(history).when({ type: 'ReleaseAddresses', vmId: 'vm-z' }).thenNothing();
  });

  test('an unknown or deleted network allocates nothing', () => {
    network([]).when(alloc('vm-a')).thenThrows('not_found');
    network([created(), { type: 'NetworkDeleted', data: { networkId: ID } }])
      .when(alloc('vm-a'))
      .thenThrows('not_found', /was deleted/);
  });
});

describe('network decider: delete', () => {
  test('refused while addresses are allocated, naming the VMs; then allowed; again: nothing', () => {
    const used = [created(), allocated('vm-a', '10.0.0.2', '52:54:00:00:00:01')];
    const err = network(used)
      .when({ type: 'DeleteNetwork', networkId: ID })
      .thenThrows('conflict', /cannot be deleted: VMs use it \(vm-a\)/);
    assert.deepEqual(err.details, { usedBy: ['vm-a'] });
    const deleted: NetworkEvent = { type: 'NetworkDeleted', data: { networkId: ID } };
    network([created()]).when({ type: 'DeleteNetwork', networkId: ID }).then([deleted]);
    network([created(), deleted]).when({ type: 'DeleteNetwork', networkId: ID }).thenNothing();
    network([]).when({ type: 'DeleteNetwork', networkId: ID }).thenThrows('not_found');
  });
});

describe('network registry: names, CIDRs and VNIs of live networks never collide', () => {
  const reg = (networkId: string, name: string, cidr: string, vni: number): NetworkRegistryEvent => ({
    type: 'NetworkRegistered',
    data: { networkId, name, cidr, vni },
  });
  const registry = (h: NetworkRegistryEvent[]) => given(networkRegistryDecider, h);

  test('the first free VNI from the base; an overlapping CIDR or a taken name is a conflict naming the other', () => {
    const h = [reg('a', 'lan', '10.0.0.0/24', VNI_BASE)];
    registry(h)
      .when({ type: 'RegisterNetwork', networkId: 'b', name: 'dmz', cidr: '10.1.0.0/24' })
      .then([reg('b', 'dmz', '10.1.0.0/24', VNI_BASE + 1)]);
    const overlap = registry(h)
      .when({ type: 'RegisterNetwork', networkId: 'b', name: 'dmz', cidr: '10.0.0.0/16' })
      .thenThrows('conflict', /cidr 10\.0\.0\.0\/16 overlaps network lan \(a, 10\.0\.0\.0\/24\)/);
    assert.deepEqual(overlap.details, { field: 'cidr', networkId: 'a' });
    registry(h)
      .when({ type: 'RegisterNetwork', networkId: 'b', name: 'lan', cidr: '10.9.0.0/24' })
      .thenThrows('conflict', /name lan is taken by network a/);
  });

  test('an unregistered network frees its CIDR and VNI; registering the same id again decides nothing', () => {
    const h: NetworkRegistryEvent[] = [
      reg('a', 'lan', '10.0.0.0/24', VNI_BASE),
      { type: 'NetworkUnregistered', data: { networkId: 'a' } },
    ];
    registry(h)
      .when({ type: 'RegisterNetwork', networkId: 'b', name: 'lan', cidr: '10.0.0.0/24' })
      .then([reg('b', 'lan', '10.0.0.0/24', VNI_BASE)]);
    registry([h[0]!]).when({ type: 'RegisterNetwork', networkId: 'a', name: 'lan', cidr: '10.0.0.0/24' }).thenNothing();
    registry(h).when({ type: 'UnregisterNetwork', networkId: 'a' }).thenNothing();
  });
});
