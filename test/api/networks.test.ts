/**
 * Issue 15 item 2, control-plane side: networks as records with their own streams. An admin
 * creates them (CIDR parsed, overlaps and bad input refused naming the field, nothing
 * appended); VMs get NICs whose addresses are allocated on the network's stream before the
 * VM's first event, never one address twice even when creates race; a full network refuses
 * with nothing recorded for the VM; deleting the VM (or a failed placement) gives the address
 * back; a network in use cannot be deleted; tenants see only their own VMs' addresses;
 * migration keeps MAC and IP. Real app, Redis, SQLite and BullMQ workers; simulated hosts
 * (the host plumbing is the drivers' and has its own tests).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { handleCommand } from '../../src/application/handle-command.js';
import { AggregateLoader } from '../../src/application/load-aggregate.js';
import { networkDecider } from '../../src/domain/network/network.decider.js';
import { networkStream } from '../../src/domain/streams.js';
import { logLength, settledLogLength, startTestApp, waitOperation, type TestApp } from '../support/app.js';
import {
  assertAccepted,
  assertError,
  createVmOp,
  getVm,
  registerSimHost,
  runOk,
  storeEvents,
  type Json,
} from '../support/e2e.js';
import { tempDir } from '../support/env.js';
import { asUser, writeAuthFile } from '../support/users.js';
import { waitFor } from '../support/wait.js';

const VM = { name: 'vm', vcpus: 1, memoryMiB: 64, diskGiB: 1 };

describe('networks: records, address allocation, release and scoping', () => {
  let t: TestApp;
  let hostId = '';
  const dir = tempDir('vl-networks-');
  const alice = () => asUser(t, 'alice');
  const bob = () => asUser(t, 'bob');
  const root = () => asUser(t, 'root');

  before(async () => {
    const authFile = writeAuthFile(dir.dir, [
      { name: 'alice', role: 'operator', projects: ['team-a'] },
      { name: 'bob', role: 'operator', projects: ['team-b'] },
      { name: 'root', role: 'admin', projects: 'all' },
      { name: 'erin', role: 'auditor', projects: ['team-b'] },
    ]);
    t = await startTestApp({ env: { AUTH_FILE: authFile } });
    hostId = (await registerSimHost(t, 'hv-net', undefined, { vcpus: 512, memoryMiB: 1 << 20 })).id as string;
    for (const name of ['team-a', 'team-b']) assert.equal((await root().post('/v1/projects', { name })).status, 201);
  });
  after(async () => {
    await t?.close();
    dir.cleanup();
  });

  const createNetwork = async (name: string, cidr: string, nat = true): Promise<Json> => {
    const res = await root().post('/v1/networks', { name, cidr, nat });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.headers.location, `/v1/networks/${res.body.id as string}`);
    return res.body as Json;
  };
  const network = async (id: string): Promise<Json> => {
    const res = await root().get(`/v1/networks/${id}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body as Json;
  };
  /** Releases are a saga step after the operation closes: wait for the network to show them. */
  const waitFree = (id: string, free: number) =>
    waitFor(async () => ((await network(id)).free === free ? true : undefined), {
      what: `network ${id} to have ${free} free addresses`,
    });

  test('an admin creates networks (201 + Location, gateway, VNI); bad and overlapping CIDRs are refused naming them', async () => {
    const lan = await createNetwork('lan', '10.50.0.0/24');
    assert.equal(lan.cidr, '10.50.0.0/24');
    assert.equal(lan.prefixLength, 24);
    assert.equal(lan.gateway, '10.50.0.1');
    assert.equal(lan.nat, true);
    assert.equal(lan.size, 253);
    assert.equal(lan.free, 253);
    assert.deepEqual(lan.allocations, []);
    assert.ok(Number.isInteger(lan.vni) && lan.vni >= 1000, JSON.stringify(lan));
    const dmz = await createNetwork('dmz', '10.51.0.0/29', false);
    assert.notEqual(dmz.vni, lan.vni);
    assert.equal(dmz.size, 5);

    const before = await settledLogLength(t);
    assertError(await root().post('/v1/networks', { name: 'x', cidr: '10.50.0.0/16' }), 409, /overlaps network lan/);
    assertError(await root().post('/v1/networks', { name: 'x', cidr: '10.50.0.128/25' }), 409, lan.id as string);
    assertError(await root().post('/v1/networks', { name: 'lan', cidr: '10.60.0.0/24' }), 409, /name lan is taken/);
    for (const cidr of ['10.60.0.5/24', '10.0.0.0/8', '10.60.0.0/30', 'lan', '10.60.0.0/24; reboot', '127.0.0.0/16'])
      assertError(await root().post('/v1/networks', { name: 'x', cidr }), 400, 'cidr');
    assertError(await root().post('/v1/networks', { name: 'x' }), 400, 'cidr');
    assertError(await root().post('/v1/networks', { name: 'x', cidr: 42 }), 400, 'cidr');
    assertError(await root().post('/v1/networks', { name: '../x', cidr: '10.60.0.0/24' }), 400, 'name');
    assertError(await root().post('/v1/networks', { name: 'x', cidr: '10.60.0.0/24', nat: 'yes' }), 400, 'nat');
    // Networks are shared by every project: only a principal of all of them changes them.
    assertError(
      await alice().post('/v1/networks', { name: 'x', cidr: '10.60.0.0/24' }),
      403,
      /may not change networks/,
    );
    assertError(await t.as('operator').post('/v1/networks', { name: 'x', cidr: '10.60.0.0/24' }), 403);
    assertError(await t.as('viewer').post('/v1/networks', { name: 'x', cidr: '10.60.0.0/24' }), 403);
    assertError(await alice().delete(`/v1/networks/${lan.id as string}`), 403);
    assert.equal(await logLength(t), before, 'a refused network create appended an event');
  });

  test('every reader lists networks (paged) and reads one; an unknown id is a 404', async () => {
    const all = await t.as('viewer').get('/v1/networks');
    assert.equal(all.status, 200);
    assert.deepEqual(
      (all.body.items as Json[]).map((n) => n.name),
      ['lan', 'dmz'],
    );
    const first = await alice().get('/v1/networks?limit=1');
    assert.equal(first.status, 200);
    assert.equal(first.body.items.length, 1);
    assert.equal(first.body.next, '1');
    const second = await alice().get(`/v1/networks?limit=1&cursor=${first.body.next as string}`);
    assert.equal(second.body.items[0].name, 'dmz');
    assert.equal(second.body.next, null);
    assertError(await t.as('viewer').get(`/v1/networks/${randomUUID()}`), 404, /not found/);
    assertError(await t.as('viewer').get('/v1/networks/..%2Fetc'), 404);
  });

  test('a VM with a NIC: address and MAC allocated before its first event, in its spec and views', async () => {
    const lan = ((await root().get('/v1/networks')).body.items as Json[]).find((n) => n.name === 'lan')!;
    const { accepted, operation } = await createVmOp(t, { name: 'web', hostId, nics: [{ networkId: lan.id }] });
    assert.equal(operation.status, 'succeeded', JSON.stringify(operation));
    const vm = await getVm(t, accepted.vmId);
    assert.equal(vm.nics.length, 1);
    assert.equal(vm.nics[0].networkId, lan.id);
    assert.equal(vm.nics[0].ip, '10.50.0.2');
    assert.match(vm.nics[0].mac as string, /^52:54:00(:[0-9a-f]{2}){3}$/);
    const net = await network(lan.id as string);
    assert.equal(net.free, 252);
    assert.deepEqual(net.allocations, [{ vmId: accepted.vmId, nicIndex: 0, ip: '10.50.0.2', mac: vm.nics[0].mac }]);

    // The allocation precedes the VM's first event, which carries everything a host needs.
    const events = await storeEvents(t);
    const alloc = events.findIndex((e) => e.type === 'NetworkAddressAllocated' && e.data.vmId === accepted.vmId);
    const created = events.findIndex((e) => e.type === 'VmCreateRequested' && e.data.vmId === accepted.vmId);
    assert.ok(alloc >= 0 && alloc < created, `allocation at ${alloc}, create at ${created}`);
    assert.equal(events[alloc]!.streamId, `network-${lan.id as string}`);
    assert.deepEqual((events[created]!.data.spec as Json).nics, [
      {
        networkId: lan.id,
        mac: vm.nics[0].mac,
        ip: '10.50.0.2',
        prefixLength: 24,
        gateway: '10.50.0.1',
        cidr: '10.50.0.0/24',
        nat: true,
        vni: lan.vni,
      },
    ]);
    // A VM without NICs shows an empty list.
    const plain = await createVmOp(t, { name: 'plain', hostId });
    assert.deepEqual((await getVm(t, plain.accepted.vmId)).nics, []);
  });

  test('bad NICs are refused naming the field, with nothing appended', async () => {
    const lan = ((await root().get('/v1/networks')).body.items as Json[]).find((n) => n.name === 'lan')!;
    const before = await settledLogLength(t);
    assertError(
      await t.as('operator').post('/v1/vms', { ...VM, nics: [{ networkId: randomUUID() }] }),
      404,
      'nics[0].networkId',
    );
    assertError(
      await t.as('operator').post('/v1/vms', { ...VM, nics: [{ networkId: lan.id }, { networkId: randomUUID() }] }),
      404,
      'nics[1].networkId',
    );
    assertError(
      await t.as('operator').post('/v1/vms', { ...VM, nics: [{ networkId: '../../etc' }] }),
      400,
      'nics.0.networkId',
    );
    assertError(await t.as('operator').post('/v1/vms', { ...VM, nics: [{}] }), 400, /networkId/);
    assertError(await t.as('operator').post('/v1/vms', { ...VM, nics: 'lan' }), 400, 'nics');
    const five = Array.from({ length: 5 }, () => ({ networkId: lan.id }));
    assertError(await t.as('operator').post('/v1/vms', { ...VM, nics: five }), 400, 'nics');
    assert.equal(await logLength(t), before, 'a refused create appended an event');
  });

  test('20 concurrent creates on a /27, twice: distinct addresses and MACs; once full, the rest refused with nothing recorded', async () => {
    const net = await createNetwork('race', '10.52.0.0/27');
    assert.equal(net.size, 29);
    const createsBefore = (await storeEvents(t)).filter((e) => e.type === 'VmCreateRequested').length;
    const burst = (n: number) =>
      Promise.all(
        Array.from({ length: n }, (_, i) =>
          t.as('operator').post('/v1/vms', { ...VM, name: `race-${i}`, hostId, nics: [{ networkId: net.id }] }),
        ),
      );
    const first = await burst(20);
    for (const res of first) assertAccepted(res);
    const second = await burst(20);
    const accepted = [...first, ...second].filter((r) => r.status === 202);
    const refused = second.filter((r) => r.status !== 202);
    assert.equal(accepted.length, 29);
    assert.equal(refused.length, 11);
    for (const res of refused) {
      assertError(res, 409, 'nics[0].networkId');
      assert.match(res.body.message as string, /network race \(.+\) is full: all 29 addresses of 10\.52\.0\.0\/27/);
    }
    const ops = await Promise.all(accepted.map((r) => waitOperation(t, r.body.operationId as string)));
    for (const op of ops) assert.equal(op.status, 'succeeded', JSON.stringify(op));

    const vms = await Promise.all(accepted.map((r) => getVm(t, r.body.vmId as string)));
    const ips = vms.map((v) => v.nics[0].ip as string);
    const macs = vms.map((v) => v.nics[0].mac as string);
    assert.equal(new Set(ips).size, 29, `addresses handed out twice: ${ips.sort().join(' ')}`);
    assert.equal(new Set(macs).size, 29);
    for (const ip of ips) assert.match(ip, /^10\.52\.0\.([2-9]|[12][0-9]|30)$/);
    const after = await network(net.id as string);
    assert.equal(after.free, 0);
    assert.equal(after.allocations.length, 29);
    // Nothing recorded for the refused VMs: exactly one VmCreateRequested per accepted create.
    const events = await storeEvents(t);
    assert.equal(events.filter((e) => e.type === 'VmCreateRequested').length - createsBefore, 29);
    const onNet = events.filter((e) => e.streamId === `network-${net.id as string}`);
    assert.equal(onNet.filter((e) => e.type === 'NetworkAddressAllocated').length, 29);
  });

  test('deleting a VM gives its address back; the next VM gets it', async () => {
    const net = ((await root().get('/v1/networks')).body.items as Json[]).find((n) => n.name === 'race')!;
    const holder = ((await network(net.id as string)).allocations as Json[]).find((a) => a.ip === '10.52.0.9')!;
    await runOk(t, 'delete', `/v1/vms/${holder.vmId as string}`);
    await waitFree(net.id as string, 1);
    const released = (await storeEvents(t)).find(
      (e) => e.type === 'NetworkAddressesReleased' && e.data.vmId === holder.vmId,
    );
    assert.deepEqual(released?.data.ips, ['10.52.0.9']);
    const next = await createVmOp(t, { name: 'reuse', hostId, nics: [{ networkId: net.id }] });
    assert.equal(next.operation.status, 'succeeded');
    assert.equal((await getVm(t, next.accepted.vmId)).nics[0].ip, '10.52.0.9');
  });

  test('a create that fails placement gives its addresses back', async () => {
    const small = (await registerSimHost(t, 'hv-small', undefined, { vcpus: 1, memoryMiB: 256 })).id as string;
    const dmz = ((await root().get('/v1/networks')).body.items as Json[]).find((n) => n.name === 'dmz')!;
    const filler = await createVmOp(t, { name: 'filler', hostId: small });
    assert.equal(filler.operation.status, 'succeeded');
    const res = await t
      .as('operator')
      .post('/v1/vms', { ...VM, name: 'no-room', hostId: small, nics: [{ networkId: dmz.id }] });
    const { operationId, vmId } = assertAccepted(res);
    const op = await waitOperation(t, operationId);
    assert.equal(op.status, 'failed', JSON.stringify(op));
    assert.equal((await getVm(t, vmId)).nics[0].ip, '10.51.0.2');
    await waitFree(dmz.id as string, 5);
  });

  test('a network in use cannot be deleted (409 naming the VMs); unused it can, and its CIDR is free again', async () => {
    const lan = ((await root().get('/v1/networks')).body.items as Json[]).find((n) => n.name === 'lan')!;
    const used = (await network(lan.id as string)).allocations as Json[];
    assert.equal(used.length, 1);
    const before = await settledLogLength(t);
    assertError(await root().delete(`/v1/networks/${lan.id as string}`), 409, used[0]!.vmId as string);
    assert.equal(await logLength(t), before);
    await runOk(t, 'delete', `/v1/vms/${used[0]!.vmId as string}`);
    await waitFree(lan.id as string, 253);
    const del = await root().delete(`/v1/networks/${lan.id as string}?reason=retired`);
    assert.equal(del.status, 204, JSON.stringify(del.body));
    assertError(await root().get(`/v1/networks/${lan.id as string}`), 404);
    assert.equal(
      ((await root().get('/v1/networks')).body.items as Json[]).some((n) => n.id === lan.id),
      false,
    );
    assertError(
      await t.as('operator').post('/v1/vms', { ...VM, nics: [{ networkId: lan.id }] }),
      404,
      'nics[0].networkId',
    );
    assert.equal((await root().delete(`/v1/networks/${lan.id as string}`)).status, 204, 'a repeated delete is done');
    const again = await createNetwork('lan', '10.50.0.0/24');
    assert.notEqual(again.id, lan.id);
  });

  test("tenants attach VMs to shared networks but see only their own projects' addresses", async () => {
    const net = await createNetwork('shared', '10.53.0.0/28');
    const a = assertAccepted(await alice().post('/v1/vms', { ...VM, name: 'a', nics: [{ networkId: net.id }] }));
    const b = assertAccepted(await bob().post('/v1/vms', { ...VM, name: 'b', nics: [{ networkId: net.id }] }));
    await waitOperation(t, a.operationId);
    await waitOperation(t, b.operationId);
    const asAlice = (await alice().get(`/v1/networks/${net.id as string}`)).body as Json;
    const asBob = (await bob().get(`/v1/networks/${net.id as string}`)).body as Json;
    assert.deepEqual(
      (asAlice.allocations as Json[]).map((x) => x.vmId),
      [a.vmId],
    );
    assert.deepEqual(
      (asBob.allocations as Json[]).map((x) => x.vmId),
      [b.vmId],
    );
    assert.equal(asAlice.free, 11);
    assert.equal(asBob.free, 11);
    assert.equal((await network(net.id as string)).allocations.length, 2);
    // Alice's VM stays invisible to Bob, its NIC included.
    assertError(await bob().get(`/v1/vms/${a.vmId}`), 404);
    // The network's stream names every tenant's VMs: it is infrastructure, not in a tenant's event feed.
    const feed = await asUser(t, 'erin').get('/v1/events?limit=1000');
    assert.equal(feed.status, 200, JSON.stringify(feed.body));
    const streams = (feed.body.items as Json[]).map((e) => String(e.streamId));
    assert.ok(streams.includes(`vm-${b.vmId}`), streams.join(' '));
    assert.equal(
      streams.some((s) => s.startsWith('network')),
      false,
      streams.join(' '),
    );
  });

  test('migration keeps MAC and IP', async () => {
    const other = (await registerSimHost(t, 'hv-net-2', undefined, { vcpus: 64, memoryMiB: 65536 })).id as string;
    const net = ((await root().get('/v1/networks')).body.items as Json[]).find((n) => n.name === 'shared')!;
    const { accepted } = await createVmOp(t, { name: 'mover', hostId, nics: [{ networkId: net.id }] });
    const before = (await getVm(t, accepted.vmId)).nics as Json[];
    await runOk(t, 'post', `/v1/vms/${accepted.vmId}/migrations`, { targetHostId: other, live: true });
    const moved = await getVm(t, accepted.vmId);
    assert.equal(moved.hostId, other);
    assert.deepEqual(moved.nics, before);
    const held = ((await network(net.id as string)).allocations as Json[]).filter((x) => x.vmId === accepted.vmId);
    assert.deepEqual(
      held.map((x) => [x.ip, x.mac]),
      [[before[0]!.ip, before[0]!.mac]],
    );
  });

  test('the networks read model is what the log says (replay check), and a rebuild gives the same views', async () => {
    const views = async () => (await root().get('/v1/networks')).body.items as Json[];
    const before = await views();
    const check = await t.as('auditor').get('/v1/audit/replay-check');
    assert.equal(check.status, 200, JSON.stringify(check.body));
    assert.equal(check.body.consistent, true, JSON.stringify(check.body.differences));
    assert.ok((check.body.readModels as Json[]).some((m) => m.name === 'networks'));
    const rebuild = await t.as('admin').post('/v1/projections/networks/rebuild', {});
    assert.equal(rebuild.status, 202, JSON.stringify(rebuild.body));
    assert.equal((await waitOperation(t, rebuild.body.operationId as string)).status, 'succeeded');
    assert.deepEqual(await views(), before);
  });

  test('a delete interrupted between its two writes does not keep the CIDR taken', async () => {
    const net = await createNetwork('half-deleted', '10.54.0.0/24');
    // What a process that died after NetworkDeleted, before the registry's NetworkUnregistered, leaves.
    await handleCommand(
      new AggregateLoader(t.runtime.store!),
      networkDecider,
      networkStream(net.id as string),
      { type: 'DeleteNetwork', networkId: net.id as string },
      { principal: 'test', correlationId: randomUUID(), causationId: 'test:interrupted' },
    );
    const again = await createNetwork('half-deleted', '10.54.0.0/24');
    assert.notEqual(again.id, net.id);
    assert.equal(again.vni, net.vni, 'the VNI of the deleted network is free again');
  });
});
