/**
 * The CLI's newer commands as a user runs them (the built bin against the real app, simulated
 * hosts): volume create → ls → vm attach → grow → rm refused while attached → detach → rm;
 * placement-group create → ls/show → rm refused with a member → rm; op cancel, vm
 * restart-policy, health. Every --json answer is the API's own.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { startTestApp, TOKENS, waitOperation, type TestApp } from '../support/app.js';
import { runCli } from '../support/cli.js';
import { createVmOp, registerSimHost, type Json } from '../support/e2e.js';

const lines = (text: string) => (text.trim() === '' ? [] : text.trim().split('\n'));

describe('e2e: the CLI for volumes, placement groups, op cancel, restart policy, health', () => {
  let t: TestApp;
  let url: string;
  let hostId: string;
  let vmId: string;
  const as = (role: keyof typeof TOKENS) => ({ env: { VIRTLEDGER_URL: url, VIRTLEDGER_TOKEN: TOKENS[role] } });

  before(async () => {
    t = await startTestApp();
    await t.app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
    hostId = (await registerSimHost(t, 'cli-vol-a')).id as string;
    const created = await createVmOp(t, { name: 'cli-vol-vm', hostId });
    assert.equal(created.operation.status, 'succeeded', JSON.stringify(created.operation));
    vmId = created.operation.vmId as string;
  });
  after(async () => {
    await t?.close();
  });

  test('volume create → ls → vm attach → grow → rm refused while attached → detach → rm', async () => {
    const created = await runCli(
      ['volume', 'create', 'data', '--size', '1', '--host', hostId, '--json'],
      as('operator'),
    );
    assert.equal(created.code, 0, created.stderr);
    const accepted = JSON.parse(created.stdout) as Json;
    const volumeId = accepted.volumeId as string;
    assert.ok(volumeId, created.stdout);
    // With a deadline: a volume saga that never acts fails here, named, instead of hanging `op wait`.
    const op = await waitOperation(t, accepted.operationId as string, 60000);
    assert.equal(op.status, 'succeeded', JSON.stringify(op));

    const table = await runCli(['volume', 'ls'], as('viewer'));
    assert.equal(table.code, 0, table.stderr);
    assert.match(lines(table.stdout)[0]!, /^ID\s+NAME\s+SIZE\(GiB\)\s+STATUS\s+HOST\s+ATTACHED TO\s+PROJECT$/);
    const row = lines(table.stdout).find((r) => r.startsWith(volumeId));
    assert.match(row ?? '', new RegExp(`\\sdata\\s+1\\s+available\\s+${hostId}\\s+-\\s+default$`), table.stdout);
    const json = await runCli(['volume', 'ls', '--json'], as('viewer'));
    assert.deepEqual(JSON.parse(json.stdout), (await t.as('viewer').get('/v1/volumes')).body);

    const attach = await runCli(['vm', 'attach', vmId, volumeId, '--wait', '--reason', 'db disk'], as('operator'));
    assert.equal(attach.code, 0, attach.stderr);
    assert.match(attach.stdout, /^operation \S+ succeeded \(vm /);
    const shown = await runCli(['volume', 'show', volumeId], as('viewer'));
    assert.match(shown.stdout, new RegExp(`^attached to\\s+${vmId}$`, 'm'));

    const grow = await runCli(['volume', 'grow', volumeId, '--size', '3', '--wait', '--json'], as('operator'));
    assert.equal(grow.code, 0, grow.stderr);
    assert.equal((JSON.parse(grow.stdout) as Json).status, 'succeeded');
    const grown = await runCli(['volume', 'show', volumeId, '--json'], as('viewer'));
    assert.deepEqual(JSON.parse(grown.stdout), (await t.as('viewer').get(`/v1/volumes/${volumeId}`)).body);
    assert.equal((JSON.parse(grown.stdout) as Json).sizeGiB, 3);

    const busy = await runCli(['volume', 'rm', volumeId], as('operator'));
    assert.equal(busy.code, 2, busy.stdout + busy.stderr);
    assert.match(busy.stderr, /^virtledger: conflict \(409\): /);

    const detach = await runCli(['vm', 'detach', vmId, volumeId, '--wait'], as('operator'));
    assert.equal(detach.code, 0, detach.stderr);
    assert.equal(((await t.as('viewer').get(`/v1/volumes/${volumeId}`)).body as Json).attachedTo, null);
    const rm = await runCli(['volume', 'rm', volumeId, '--wait', '--reason', 'done'], as('operator'));
    assert.equal(rm.code, 0, rm.stderr);
    assert.match(rm.stdout, /^operation \S+ succeeded/);

    const bad = await runCli(['volume', 'grow', volumeId, '--size', 'big'], as('operator'));
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr, 'virtledger: --size must be an integer ≥ 1, got "big"\n');
    const viewer = await runCli(['volume', 'create', 'x', '--size', '1'], as('viewer'));
    assert.equal(viewer.code, 2);
    assert.match(viewer.stderr, /403 Forbidden/);
    const missing = await runCli(['volume', 'show', '00000000-0000-4000-8000-000000000000'], as('viewer'));
    assert.equal(missing.code, 3);
  });

  test('placement-group create → ls/show → rm refused with a member → rm', async () => {
    const created = await runCli(
      ['placement-group', 'create', 'web', '--policy', 'anti-affinity', '--strict', '--json'],
      as('operator'),
    );
    assert.equal(created.code, 0, created.stderr);
    const group = JSON.parse(created.stdout) as Json;
    assert.equal(group.policy, 'anti-affinity');
    assert.equal(group.strict, true);
    const groupId = group.id as string;

    const member = await createVmOp(t, { name: 'pg-member', hostId, placementGroupId: groupId });
    assert.equal(member.operation.status, 'succeeded', JSON.stringify(member.operation));

    const table = await runCli(['placement-group', 'ls'], as('viewer'));
    assert.equal(table.code, 0, table.stderr);
    assert.match(lines(table.stdout)[0]!, /^ID\s+NAME\s+POLICY\s+MEMBERS\s+PROJECT$/);
    assert.ok(
      lines(table.stdout).some(
        (r) => r.startsWith(groupId) && /\sweb\s+anti-affinity \(strict\)\s+1\s+default$/.test(r),
      ),
      table.stdout,
    );
    const show = await runCli(['placement-group', 'show', groupId], as('viewer'));
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, new RegExp(`^${member.operation.vmId as string}\\s+pg-member\\s+${hostId}$`, 'm'));

    const busy = await runCli(['placement-group', 'rm', groupId], as('operator'));
    assert.equal(busy.code, 2, busy.stdout + busy.stderr);
    assert.match(busy.stderr, /conflict \(409\): .*pg-member/);

    const soft = await runCli(['placement-group', 'create', 'batch', '--policy', 'affinity', '--json'], as('operator'));
    assert.equal(soft.code, 0, soft.stderr);
    const softId = (JSON.parse(soft.stdout) as Json).id as string;
    assert.equal((JSON.parse(soft.stdout) as Json).strict, false);
    const rm = await runCli(['placement-group', 'rm', softId, '--reason', 'unused'], as('operator'));
    assert.equal(rm.code, 0, rm.stderr);
    assert.equal(rm.stdout, 'placement group batch removed\n');
    const gone = await runCli(['placement-group', 'ls', '--json'], as('viewer'));
    const ids = (JSON.parse(gone.stdout) as { items: Json[] }).items.map((g) => g.id);
    assert.ok(!ids.includes(softId) && ids.includes(groupId), gone.stdout);

    const bad = await runCli(['placement-group', 'create', 'x', '--policy', 'near'], as('operator'));
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr, 'virtledger: --policy must be affinity or anti-affinity, got "near"\n');
  });

  test('op cancel of a finished operation: 409, exit 2; vm restart-policy; health', async () => {
    const ops = (await t.as('viewer').get(`/v1/operations?vmId=${vmId}`)).body as { items: Json[] };
    const done = ops.items.find((o) => o.status === 'succeeded')!;
    const cancel = await runCli(['op', 'cancel', done.id as string, '--reason', 'too late'], as('operator'));
    assert.equal(cancel.code, 2, cancel.stdout + cancel.stderr);
    assert.match(cancel.stderr, /^virtledger: conflict \(409\): /);

    const policy = await runCli(['vm', 'restart-policy', vmId, 'on-crash'], as('operator'));
    assert.equal(policy.code, 0, policy.stderr);
    assert.equal(policy.stdout, `vm ${vmId} restart policy on-crash\n`);
    assert.equal(((await t.as('viewer').get(`/v1/vms/${vmId}`)).body as Json).restartPolicy, 'on-crash');
    const badPolicy = await runCli(['vm', 'restart-policy', vmId, 'sometimes'], as('operator'));
    assert.equal(badPolicy.code, 2);
    assert.match(badPolicy.stderr, /400.*restartPolicy/);

    // Public: no token needed.
    const health = await runCli(['health'], { env: { VIRTLEDGER_URL: url } });
    assert.equal(health.code, 0, health.stderr);
    assert.match(health.stdout, /^status ok$/m);
    assert.match(health.stdout, /^CHECK\s+STATUS$/m);
    const json = await runCli(['health', '--json'], { env: { VIRTLEDGER_URL: url } });
    assert.equal((JSON.parse(json.stdout) as Json).status, 'ok');
  });
});
