/**
 * The daily-work CLI as a user runs it: the built bin in a child process
 * against the real app on a port. host register → vm create --wait → ls
 * (table and --json) → stop --wait → op ls → rm; a failed operation exits 1;
 * the completion script; flags over environment over config file.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { startTestApp, TOKENS, type TestApp } from '../support/app.js';
import { runCli } from '../support/cli.js';
import { tempDir } from '../support/env.js';
import type { Json } from '../support/e2e.js';

function lines(text: string): string[] {
  return text.trim() === '' ? [] : text.trim().split('\n');
}

describe('e2e: the virtledger CLI for daily work (host, vm, op, completion, config)', () => {
  let t: TestApp;
  let url: string;
  const tmp = tempDir('vl-cli-daily-');
  const as = (role: keyof typeof TOKENS) => ({ env: { VIRTLEDGER_URL: url, VIRTLEDGER_TOKEN: TOKENS[role] } });

  before(async () => {
    t = await startTestApp();
    await t.app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
  });
  after(async () => {
    await t?.close();
    tmp.cleanup();
  });

  test('host register → vm create --wait → vm ls (table, --json) → stop --wait → op ls → rm --wait', async () => {
    const reg = await runCli(
      [
        'host',
        'register',
        'daily-a',
        '--driver',
        'simulated',
        '--uri',
        'simulated://?latencyMs=0',
        '--vcpus',
        '8',
        '--memory',
        '4096',
        '--json',
      ],
      as('admin'),
    );
    assert.equal(reg.code, 0, reg.stderr);
    const hostId = (JSON.parse(reg.stdout) as Json).id as string;
    const hosts = await runCli(['host', 'ls'], as('viewer'));
    assert.equal(hosts.code, 0, hosts.stderr);
    assert.match(lines(hosts.stdout)[0]!, /^ID\s+NAME\s+DRIVER\s+STATE\s+VCPUS\s+MEMORY\(MiB\)\s+VMS$/);
    assert.ok(
      lines(hosts.stdout).some(
        (r) => r.startsWith(hostId) && /\sdaily-a\s+simulated\s+active\s+0\/8\s+0\/4096\s+0$/.test(r),
      ),
      hosts.stdout,
    );

    const created = await runCli(
      ['vm', 'create', 'daily-vm', '--vcpus', '1', '--memory', '128', '--host', hostId, '--wait', '--json'],
      as('operator'),
    );
    assert.equal(created.code, 0, created.stderr);
    const op = JSON.parse(created.stdout) as Json;
    assert.equal(op.status, 'succeeded');
    assert.equal(op.kind, 'create');
    const vmId = op.vmId as string;
    assert.match(created.stderr, /succeeded/, 'plain progress lines on a non-TTY');

    const table = await runCli(['vm', 'ls'], as('viewer'));
    assert.equal(table.code, 0, table.stderr);
    const rows = lines(table.stdout);
    assert.match(rows[0]!, /^ID\s+NAME\s+STATE\s+HOST\s+VCPUS\s+MEMORY\(MiB\)\s+PROJECT$/);
    const row = rows.find((r) => r.startsWith(vmId))!;
    assert.match(row, /\sdaily-vm\s+running\s+daily-a\s+1\s+128\s+default$/);
    const json = await runCli(['vm', 'ls', '--json'], as('viewer'));
    const api = await t.as('viewer').get('/v1/vms');
    assert.deepEqual(JSON.parse(json.stdout), api.body);

    const stop = await runCli(['vm', 'stop', vmId, '--wait', '--reason', 'maintenance'], as('operator'));
    assert.equal(stop.code, 0, stop.stderr);
    assert.match(stop.stdout, /^operation \S+ succeeded \(vm /);
    assert.equal(((await t.as('viewer').get(`/v1/vms/${vmId}`)).body as Json).state, 'stopped');

    const ops = await runCli(['op', 'ls', '--vm', vmId], as('viewer'));
    assert.equal(ops.code, 0, ops.stderr);
    const opRows = lines(ops.stdout);
    assert.match(opRows[0]!, /^ID\s+KIND\s+STATUS\s+VM\s+PRINCIPAL\s+PROGRESS\s+CREATED\s+ERROR$/);
    assert.ok(
      opRows.some((r) => /\sstop\s+succeeded\s/.test(r)),
      ops.stdout,
    );
    assert.ok(
      opRows.some((r) => /\screate\s+succeeded\s/.test(r)),
      ops.stdout,
    );

    const noWait = await runCli(['vm', 'rm', vmId], as('operator'));
    assert.equal(noWait.code, 0, noWait.stderr);
    const opId = /^operation (\S+) accepted/.exec(noWait.stdout)?.[1];
    assert.ok(opId, noWait.stdout);
    const waited = await runCli(['op', 'wait', opId!], as('viewer'));
    assert.equal(waited.code, 0, waited.stderr);
    assert.equal(waited.stdout, `operation ${opId} succeeded\n`);
    const shown = await runCli(['vm', 'show', vmId], as('viewer'));
    assert.match(shown.stdout, /^state\s+deleted$/m);

    const removed = await runCli(['host', 'rm', hostId, '--reason', 'retired'], as('admin'));
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(removed.stdout, `host ${hostId} removed\n`);
    const gone = await runCli(['host', 'show', hostId], as('viewer'));
    assert.equal(gone.code, 3, 'not found');
    assert.match(gone.stderr, /^virtledger: not found \(404\)/);
  });

  test('an operation that fails: --wait prints its error and exits 1; a refused command exits 2 with the reason', async () => {
    const reg = await runCli(
      [
        'host',
        'register',
        'daily-bad',
        '--driver',
        'simulated',
        '--uri',
        'simulated://?latencyMs=0&failVerbs=define',
        '--vcpus',
        '4',
        '--memory',
        '2048',
        '--json',
      ],
      as('admin'),
    );
    assert.equal(reg.code, 0, reg.stderr);
    const hostId = (JSON.parse(reg.stdout) as Json).id as string;
    const res = await runCli(
      ['vm', 'create', 'doomed', '--vcpus', '1', '--memory', '64', '--host', hostId, '--wait'],
      as('operator'),
    );
    assert.equal(res.code, 1, res.stdout + res.stderr);
    assert.match(res.stderr, /virtledger: operation \S+ failed: /);
    // A driver failure that no retry fixes is reported as the operation's result and the job completes
    // (src/workers/host-worker.ts): the queue counts it nowhere, and its failed list stays empty.
    const ls = await runCli(['queue', 'ls', '--json'], as('operator'));
    assert.equal(ls.code, 0, ls.stderr);
    const row = (JSON.parse(ls.stdout) as { items: Json[] }).items.find((q) => q.hostId === hostId)!;
    assert.equal(row.hostName, 'daily-bad');
    for (const k of ['waiting', 'active', 'delayed', 'failed', 'stalledRedeliveries'])
      assert.equal(typeof row[k], 'number', k);
    const table = await runCli(['queue', 'ls'], as('operator'));
    assert.match(lines(table.stdout)[0]!, /^HOST\s+NAME\s+WAITING\s+ACTIVE\s+DELAYED\s+FAILED\s+STALLED$/);
    assert.ok(
      lines(table.stdout).some((r) => r.startsWith(hostId) && /\sdaily-bad\s+\d+\s+\d+\s+\d+\s+\d+\s+\d+$/.test(r)),
    );
    const shown = await runCli(['queue', 'show', hostId, '--json'], as('admin'));
    assert.equal(shown.code, 0, shown.stderr);
    assert.deepEqual(JSON.parse(shown.stdout), (await t.as('admin').get(`/v1/queues/${hostId}/failed`)).body);
    const forViewer = await runCli(['queue', 'ls'], as('viewer'));
    assert.equal(forViewer.code, 2);
    assert.match(forViewer.stderr, /403 Forbidden/);
    const unknown = await runCli(['queue', 'show', 'no-such-host'], as('operator'));
    assert.equal(unknown.code, 3);

    const viewer = await runCli(['vm', 'create', 'x', '--vcpus', '1', '--memory', '64'], as('viewer'));
    assert.equal(viewer.code, 2);
    assert.match(viewer.stderr, /403 Forbidden/);
    const bad = await runCli(['vm', 'create', 'x', '--vcpus', 'two', '--memory', '64'], as('operator'));
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr, 'virtledger: --vcpus must be an integer ≥ 1, got "two"\n');
  });

  test('vm create --placement-group, --selector (repeatable), --placement: the VM records them; no match exits 2 naming the hosts', async () => {
    const reg = await runCli(
      ['host', 'register', 'daily-pl', '--driver', 'simulated', '--uri', 'simulated://?latencyMs=0'].concat([
        '--vcpus',
        '4',
        '--memory',
        '2048',
        '--label',
        'zone=a',
        '--label',
        'tier=web',
        '--json',
      ]),
      as('admin'),
    );
    assert.equal(reg.code, 0, reg.stderr);
    const hostId = (JSON.parse(reg.stdout) as Json).id as string;
    const group = await t
      .as('operator')
      .post('/v1/placement-groups', { name: 'cli', policy: 'anti-affinity', strict: true });
    assert.equal(group.status, 201, JSON.stringify(group.body));
    const args = ['vm', 'create', 'pl-1', '--vcpus', '1', '--memory', '64', '--selector', 'zone=a'];
    const res = await runCli(
      [
        ...args,
        '--selector',
        'tier=web',
        '--placement',
        'pack',
        '--placement-group',
        group.body.id as string,
        '--wait',
        '--json',
      ],
      as('operator'),
    );
    assert.equal(res.code, 0, res.stdout + res.stderr);
    const vmId = (JSON.parse(res.stdout) as Json).vmId as string;
    const vm = (await t.as('viewer').get(`/v1/vms/${vmId}`)).body as Json;
    assert.equal(vm.hostId, hostId);
    assert.deepEqual(vm.hostSelector, { zone: 'a', tier: 'web' });
    assert.equal(vm.placement, 'pack');
    assert.equal(vm.placementGroupId, group.body.id);
    const none = await runCli(
      ['vm', 'create', 'pl-2', '--vcpus', '1', '--memory', '64', '--selector', 'zone=z'],
      as('operator'),
    );
    assert.equal(none.code, 2, none.stdout + none.stderr);
    assert.match(none.stderr, /no host can take .*daily-pl \(.*\): label zone=a != z/);
    const bad = await runCli(
      ['vm', 'create', 'pl-3', '--vcpus', '1', '--memory', '64', '--selector', 'zone'],
      as('operator'),
    );
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr, 'virtledger: --selector must be label=value, got "zone"\n');
  });

  test('completion bash prints a script that completes commands and their options', async () => {
    const res = await runCli(['completion', 'bash']);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /^complete -F _virtledger virtledger$/m);
    assert.match(
      res.stdout,
      /^ {4}""\) opts="host audit vm image op snapshot project network volume placement-group fleet queue projection health completion" ;;$/m,
    );
    assert.match(
      res.stdout,
      /^ {4}"vm stop"\) opts="--server --token --json --force --timeout-ms --wait --reason" ;;$/m,
    );
    assert.match(res.stdout, /^ {4}"volume"\) opts="ls show create grow rm" ;;$/m);
    assert.match(
      res.stdout,
      /^ {4}"volume create"\) opts="--server --token --json --size --host --project --wait --reason" ;;$/m,
    );
    assert.match(res.stdout, /^ {4}"placement-group"\) opts="ls show create rm" ;;$/m);
    assert.match(res.stdout, /^ {4}"vm attach"\) opts="--server --token --json --wait --reason" ;;$/m);
    const zsh = await runCli(['completion', 'zsh']);
    assert.equal(zsh.code, 2);
    assert.match(zsh.stderr, /only bash is supported/);
  });

  test('config file: used when nothing else is given; the environment overrides it, flags override both', async () => {
    const file = join(tmp.dir, 'config.json');
    writeFileSync(file, JSON.stringify({ url, token: TOKENS.viewer }));
    const fromFile = await runCli(['host', 'ls', '--json'], { env: { VIRTLEDGER_CONFIG: file } });
    assert.equal(fromFile.code, 0, fromFile.stderr);
    assert.ok(Array.isArray((JSON.parse(fromFile.stdout) as Json).items));

    // The file's token is good, the environment's is refused: the environment wins.
    const envWins = await runCli(['host', 'ls'], { env: { VIRTLEDGER_CONFIG: file, VIRTLEDGER_TOKEN: 'wrong-token' } });
    assert.equal(envWins.code, 2);
    assert.match(envWins.stderr, /token refused .*401/);
    const flagWins = await runCli(['host', 'ls', '--token', TOKENS.viewer], {
      env: { VIRTLEDGER_CONFIG: file, VIRTLEDGER_TOKEN: 'wrong-token' },
    });
    assert.equal(flagWins.code, 0, flagWins.stderr);

    writeFileSync(file, '{not json');
    const broken = await runCli(['host', 'ls'], { env: { VIRTLEDGER_CONFIG: file } });
    assert.equal(broken.code, 2);
    assert.equal(broken.stderr, `virtledger: config file ${file} is not JSON\n`);
    const none = await runCli(['host', 'ls'], { env: { VIRTLEDGER_CONFIG: join(tmp.dir, 'absent.json') } });
    assert.equal(none.code, 2);
    assert.match(none.stderr, /no server: pass --server <url> or set VIRTLEDGER_URL \(or "url" in .*absent\.json\)/);
  });
});
