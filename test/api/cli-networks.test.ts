/**
 * `virtledger network create|ls|show|rm` and `vm create --nic`, run as the built CLI against
 * the real app: an admin creates a network, an operator puts a VM on it, the network shows the
 * allocation, a network in use cannot be removed (the CLI exits non-zero with the API's reason).
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startTestApp, TOKENS, type TestApp } from '../support/app.js';
import { runCli } from '../support/cli.js';
import { registerSimHost, type Json } from '../support/e2e.js';
import { waitFor } from '../support/wait.js';

describe('e2e: the virtledger CLI for networks', () => {
  let t: TestApp;
  let url: string;
  const as = (role: keyof typeof TOKENS) => ({ env: { VIRTLEDGER_URL: url, VIRTLEDGER_TOKEN: TOKENS[role] } });

  before(async () => {
    t = await startTestApp();
    await t.app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
    await registerSimHost(t, 'cli-net-hv');
  });
  after(async () => {
    await t?.close();
  });

  test('network create → vm create --nic → network ls/show → rm refused while used, then done', async () => {
    const created = await runCli(['network', 'create', 'lan', '10.70.0.0/24', '--nat', '--json'], as('admin'));
    assert.equal(created.code, 0, created.stderr);
    const net = JSON.parse(created.stdout) as Json;
    assert.equal(net.gateway, '10.70.0.1');
    assert.equal(net.nat, true);
    const refused = await runCli(['network', 'create', 'lan2', '10.70.0.0/16'], as('admin'));
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /overlaps network lan/);

    const vm = await runCli(
      ['vm', 'create', 'on-lan', '--vcpus', '1', '--memory', '64', '--nic', net.id as string, '--wait', '--json'],
      as('operator'),
    );
    assert.equal(vm.code, 0, vm.stderr);
    const op = JSON.parse(vm.stdout) as Json;
    assert.equal(op.status, 'succeeded');

    const ls = await runCli(['network', 'ls'], as('viewer'));
    assert.equal(ls.code, 0, ls.stderr);
    assert.match(
      ls.stdout,
      new RegExp(`${net.id as string}\\s+lan\\s+10\\.70\\.0\\.0/24\\s+10\\.70\\.0\\.1\\s+yes\\s+\\d+\\s+252/253`),
    );
    const show = await runCli(['network', 'show', net.id as string], as('viewer'));
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, new RegExp(`${op.vmId as string}\\s+0\\s+10\\.70\\.0\\.2\\s+52:54:00`));

    const inUse = await runCli(['network', 'rm', net.id as string], as('admin'));
    assert.notEqual(inUse.code, 0);
    assert.match(inUse.stderr, /cannot be deleted: VMs use it/);
    const rmVm = await runCli(['vm', 'rm', op.vmId as string, '--wait'], as('operator'));
    assert.equal(rmVm.code, 0, rmVm.stderr);
    // The address goes back in a saga step after the delete closes: wait for the network to show it.
    await waitFor(
      async () => ((await t.as('viewer').get(`/v1/networks/${net.id as string}`)).body.free === 253 ? true : undefined),
      { what: 'the address to be released' },
    );
    const rm = await runCli(['network', 'rm', net.id as string], as('admin'));
    assert.equal(rm.code, 0, rm.stderr);
    assert.match(rm.stdout, /removed/);
  });
});
