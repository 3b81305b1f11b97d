/**
 * The CLI's maintenance and audit commands against a real app (real Redis, SQLite, in-process
 * BullMQ workers, simulated driver): host domains, projection ls/rebuild, audit seals,
 * audit replay-check and audit log --follow.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { createVm, registerHost, startTestApp, TOKENS, type TestApp } from '../support/app.js';
import { CLI, runCli } from '../support/cli.js';
import type { Json } from '../support/e2e.js';

const lines = (text: string) => (text.trim() === '' ? [] : text.trim().split('\n'));

describe('e2e: CLI for hosts domains, projections, seals, replay-check and the live log', () => {
  let t: TestApp;
  let url: string;
  const as = (role: keyof typeof TOKENS) => ({ env: { VIRTLEDGER_URL: url, VIRTLEDGER_TOKEN: TOKENS[role] } });

  before(async () => {
    t = await startTestApp();
    await t.app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
  });
  after(async () => {
    await t?.close();
  });

  test('host domains lists what the driver runs, as the API does', async () => {
    const hostId = await registerHost(t, { name: 'cli-dom', uri: 'simulated://?latencyMs=0' });
    const { vmId } = await createVm(t, { hostId, name: 'dom-vm' });
    const table = await runCli(['host', 'domains', hostId], as('operator'));
    assert.equal(table.code, 0, table.stderr);
    assert.match(lines(table.stdout)[0]!, /^VM\s+STATE\s+MANAGED\s+PID\s+DETAIL$/);
    assert.ok(
      lines(table.stdout).some((l) => l.startsWith(vmId) && /\srunning\s+yes\s/.test(l)),
      table.stdout,
    );
    const json = await runCli(['host', 'domains', hostId, '--json'], as('operator'));
    assert.deepEqual(JSON.parse(json.stdout), (await t.as('operator').get(`/v1/hosts/${hostId}/domains`)).body);
    const viewer = await runCli(['host', 'domains', hostId], as('viewer'));
    assert.equal(viewer.code, 2);
    assert.match(viewer.stderr, /403 Forbidden/);
    const unknown = await runCli(['host', 'domains', 'no-such-host'], as('operator'));
    assert.equal(unknown.code, 3);
  });

  test('projection ls shows positions; rebuild --wait runs the rebuild operation to its end', async () => {
    await createVm(t, { name: 'proj-vm' });
    const ls = await runCli(['projection', 'ls', '--json'], as('viewer'));
    assert.equal(ls.code, 0, ls.stderr);
    const names = (JSON.parse(ls.stdout) as { items: Array<{ name: string }> }).items.map((p) => p.name);
    assert.ok(names.includes('vms'), ls.stdout);
    const before = (await t.as('operator').get('/v1/vms?limit=1000')).body.items as Json[];
    const rebuilt = await runCli(['projection', 'rebuild', 'vms', '--wait', '--reason', 'cli test'], as('admin'));
    assert.equal(rebuilt.code, 0, rebuilt.stderr);
    assert.match(rebuilt.stdout, /^operation \S+ succeeded/);
    const after = (await t.as('operator').get('/v1/vms?limit=1000')).body.items as Json[];
    assert.deepEqual(
      after.map((v) => [v.id, v.state]),
      before.map((v) => [v.id, v.state]),
    );
    const operator = await runCli(['projection', 'rebuild', 'vms'], as('operator'));
    assert.equal(operator.code, 2);
    const unknown = await runCli(['projection', 'rebuild', 'nope'], as('admin'));
    assert.notEqual(unknown.code, 0);
  });

  test('audit seals lists the signed seals and --key prints the PEM; replay-check is consistent', async () => {
    await createVm(t, { name: 'seal-vm' });
    const seal = await t.runtime.sealer!.sealNow();
    assert.ok(seal, 'a seal was made');
    const seals = await runCli(['audit', 'seals', '--json'], as('auditor'));
    assert.equal(seals.code, 0, seals.stderr);
    const list = (JSON.parse(seals.stdout) as { seals: Json[] }).seals;
    assert.ok(list.some((s) => s.sequence === seal.sequence));
    const table = await runCli(['audit', 'seals'], as('auditor'));
    assert.match(lines(table.stdout)[0]!, /^SEQ\s+POSITION\s+EVENTS\s+SEALED AT\s+ROOT$/);
    const key = await runCli(['audit', 'seals', '--key'], as('auditor'));
    assert.match(key.stdout, /^-----BEGIN PUBLIC KEY-----\n[\s\S]+\n-----END PUBLIC KEY-----\n$/);
    const check = await runCli(['audit', 'replay-check', '--json'], as('auditor'));
    assert.equal(check.code, 0, check.stderr);
    assert.equal((JSON.parse(check.stdout) as Json).consistent, true);
    const operator = await runCli(['audit', 'seals'], as('operator'));
    assert.equal(operator.code, 2);
  });

  test('audit log --follow prints events as they are appended, filtered by VM', async () => {
    const { vmId } = await createVm(t, { name: 'follow-vm' });
    const child = spawn(process.execPath, [CLI, 'audit', 'log', '--follow', '--vm', vmId, '--json'], {
      env: { ...process.env, VIRTLEDGER_URL: url, VIRTLEDGER_TOKEN: TOKENS.auditor },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const seen = (pred: (e: Json) => boolean) =>
      new Promise<Json>((resolve, reject) => {
        const look = () => {
          const hit = lines(stdout)
            .map((l) => JSON.parse(l) as Json)
            .find(pred);
          if (hit) resolve(hit);
        };
        child.stdout.on('data', (d: Buffer) => {
          stdout += d.toString();
          look();
        });
        child.once('exit', (code) => reject(new Error(`the CLI exited (${code}): ${stderr}`)));
        look();
      });
    try {
      // The history first (the create), then what happens while it runs.
      await seen((e) => e.type === 'VmCreateRequested');
      const stop = await t.as('operator').post(`/v1/vms/${vmId}/stop`, { force: true });
      assert.equal(stop.status, 202);
      const stopped = await seen((e) => e.type === 'VmStopped');
      assert.equal(stopped.streamId, `vm-${vmId}`);
      const other = lines(stdout).filter((l) => (JSON.parse(l) as Json).streamId !== `vm-${vmId}`);
      assert.deepEqual(other, [], 'only the VM asked for');
    } finally {
      child.kill('SIGTERM');
    }
    const bad = await runCli(['audit', 'log', '--follow', '--from', 'yesterday'], as('auditor'));
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--from must be a position or 'end'/);
  });
});
