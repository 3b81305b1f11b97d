/**
 * The `virtledger` CLI as a user runs it: the built bin in a child process
 * against the real app listening on a port (real Redis, real store, real
 * workers). `audit export`, `vm state`, `vm history`, `vm diff`: their tables,
 * their --json, and one clear line and a non-zero exit for every failure.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { logLength, startTestApp, TOKENS, type TestApp } from '../support/app.js';
import { closedPort, runCli } from '../support/cli.js';
import { tempDir } from '../support/env.js';
import { instantBetween } from '../support/wait.js';
import { createVmOp, getVm, registerSimHost, runOk, vmEvents, waitSettled, type Json } from '../support/e2e.js';

const UNKNOWN_VM = '00000000-0000-4000-8000-000000000000';

function lines(text: string): string[] {
  return text.trim() === '' ? [] : text.trim().split('\n');
}

describe('e2e: the virtledger CLI (audit export, vm state/history/diff)', () => {
  let t: TestApp;
  let url: string;
  const tmp = tempDir('vl-cli-');
  let vmId: string;
  let hostId: string;
  let stopOp: string;
  let whileStopped: { at: string; view: Json };
  let events: Json[];
  const auditor = () => ['--server', url, '--token', TOKENS.auditor];
  const asEnv = (token: string = TOKENS.auditor) => ({ env: { VIRTLEDGER_URL: url, VIRTLEDGER_TOKEN: token } });

  /** GET as auditor with the body kept as text (NDJSON). */
  async function getText(path: string): Promise<string> {
    const res = await t
      .as('auditor')
      .get(path)
      .buffer(true)
      .parse((r, cb) => {
        let s = '';
        r.setEncoding('utf8');
        r.on('data', (d: string) => (s += d));
        r.on('end', () => cb(null, s));
      });
    assert.equal(res.status, 200);
    return res.body as string;
  }

  before(async () => {
    t = await startTestApp();
    hostId = (await registerSimHost(t, 'cli-a')).id as string;
    const created = await createVmOp(t, { name: 'cli-vm', vcpus: 1, memoryMiB: 96, hostId });
    assert.equal(created.operation.status, 'succeeded');
    vmId = created.accepted.vmId;
    await runOk(t, 'post', `/v1/vms/${vmId}/snapshots`, { name: 's1' });
    stopOp = (await runOk(t, 'post', `/v1/vms/${vmId}/stop`, { reason: 'disk check' })).accepted.operationId;
    await waitSettled(t, [hostId]);
    const view = await getVm(t, vmId);
    whileStopped = { at: await instantBetween(), view };
    await runOk(t, 'post', `/v1/vms/${vmId}/start`);
    await waitSettled(t, [hostId]);
    events = await vmEvents(t, vmId);
    await t.app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
  });
  after(async () => {
    await t?.close();
    tmp.cleanup();
  });

  test('vm state: a table of the live VM, --json the API answer; server and token from flags or the environment', async () => {
    const live = await getVm(t, vmId);
    const human = await runCli(['vm', 'state', vmId], asEnv(TOKENS.viewer));
    assert.equal(human.code, 0, human.stderr);
    const rows = lines(human.stdout);
    assert.match(rows[0]!, /^FIELD\s+VALUE$/);
    const field = (name: string) => rows.find((r) => r.startsWith(`${name} `))?.replace(/^\S+\s+/, '');
    assert.equal(field('id'), vmId);
    assert.equal(field('name'), 'cli-vm');
    assert.equal(field('state'), 'running');
    assert.equal(field('host'), hostId);
    assert.equal(field('memory'), '96 MiB');
    assert.equal(field('snapshots'), 's1 (memory)');
    assert.equal(field('revision'), String(live.revision));
    const json = await runCli(['vm', 'state', vmId, '--json', '--server', url, '--token', TOKENS.viewer]);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout), live);
  });

  test('vm state --at / --revision: the VM as it was, the same answer as the API', async () => {
    const at = await runCli(['vm', 'state', vmId, '--at', whileStopped.at, '--json', ...auditor()]);
    assert.equal(at.code, 0, at.stderr);
    assert.deepEqual(JSON.parse(at.stdout), whileStopped.view);
    assert.equal((JSON.parse(at.stdout) as Json).state, 'stopped');
    const human = await runCli(['vm', 'state', vmId, '--at', whileStopped.at, ...auditor()]);
    assert.match(human.stdout, /^state\s+stopped$/m);
    for (const r of [0, 3, events.length - 1]) {
      const res = await runCli(['vm', 'state', vmId, '--revision', String(r), '--json', ...auditor()]);
      assert.equal(res.code, 0, res.stderr);
      const api = await t.as('auditor').get(`/v1/vms/${vmId}?revision=${r}`);
      assert.deepEqual(JSON.parse(res.stdout), api.body);
      assert.equal((JSON.parse(res.stdout) as Json).revision, r);
    }
  });

  test("vm history: one row per event with its reason; --json is NDJSON of the VM's events", async () => {
    const human = await runCli(['vm', 'history', vmId, ...auditor()]);
    assert.equal(human.code, 0, human.stderr);
    const rows = lines(human.stdout);
    assert.match(rows[0]!, /^REV\s+POSITION\s+AT\s+TYPE\s+PRINCIPAL\s+CORRELATION\s+REASON$/);
    assert.equal(rows.length, 1 + events.length);
    const stop = rows.find((r) => / VmStopRequested /.test(r))!;
    assert.ok(stop.includes(stopOp) && stop.endsWith('disk check'), stop);
    const json = await runCli(['vm', 'history', vmId, '--json'], asEnv());
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(
      lines(json.stdout).map((l) => JSON.parse(l) as Json),
      events,
    );
  });

  test('vm diff: --json is the API answer; the table lists each change with its event', async () => {
    const stopRev = whileStopped.view.revision as number;
    const json = await runCli(['vm', 'diff', vmId, '--from', '2', '--to', whileStopped.at, '--json', ...auditor()]);
    assert.equal(json.code, 0, json.stderr);
    const api = await t.as('auditor').get(`/v1/vms/${vmId}/diff?from=2&to=${stopRev}`);
    assert.equal(api.status, 200);
    assert.deepEqual(JSON.parse(json.stdout), api.body);

    const human = await runCli(['vm', 'diff', vmId, '--from', '2', '--to', String(stopRev), ...auditor()]);
    assert.equal(human.code, 0, human.stderr);
    const rows = lines(human.stdout);
    const items = api.body.items as Json[];
    assert.equal(rows[0], `VM ${vmId}: revision 2 → revision ${stopRev}, ${items.length} changes`);
    assert.match(rows[1]!, /^REV\s+AT\s+EVENT\s+PRINCIPAL\s+OPERATION\s+FIELD\s+OLD\s+NEW$/);
    assert.equal(rows.length, 2 + items.length);
    assert.ok(
      rows.some((r) => / VmStopped /.test(r) && r.includes(stopOp) && / state\s+running\s+stopped$/.test(r)),
      human.stdout,
    );
    assert.ok(rows.some((r) => / snapshots\.s1\s+-\s+\{"name":"s1"/.test(r)));

    const whole = await runCli(['vm', 'diff', vmId], asEnv());
    assert.equal(whole.code, 0, whole.stderr);
    assert.match(
      lines(whole.stdout)[0]!,
      new RegExp(`: before it existed → revision ${events.length - 1}, \\d+ changes$`),
    );
    const none = await runCli(['vm', 'diff', vmId, '--from', '3', '--to', '3'], asEnv());
    assert.deepEqual(lines(none.stdout), [`VM ${vmId}: revision 3 → revision 3, 0 changes`]);
  });

  test('a reader that closes the pipe early (`| head`): the CLI stops quietly, exit 0, no EPIPE stack', async () => {
    for (const args of [
      ['vm', 'history', vmId],
      ['audit', 'export'],
    ]) {
      const res = await runCli([...args, ...auditor()], { stdoutClosed: true });
      assert.equal(res.stderr, '', `${args.join(' ')}: nothing on stderr`);
      assert.equal(res.code, 0, args.join(' '));
    }
  });

  test('audit export to stdout, redirected to a file, verifies offline with audit verify <file>', async () => {
    const file = join(tmp.dir, 'all.ndjson');
    const exp = await runCli(['audit', 'export', ...auditor()], { stdoutFile: file });
    assert.equal(exp.code, 0, exp.stderr);
    assert.equal(exp.stderr, '');
    const text = readFileSync(file, 'utf8');
    assert.equal(text, await getText('/v1/audit/export'), 'byte for byte what the route serves');
    const n = lines(text).length;
    assert.equal(n, await logLength(t));
    const streams = new Set(lines(text).map((l) => (JSON.parse(l) as Json).streamId)).size;
    const v = await runCli(['audit', 'verify', file]);
    assert.equal(v.code, 0, v.stderr);
    assert.equal(v.stdout, `verified ${n} events in ${streams} streams\n`);
  });

  test('audit export --out with --vm / --from-position / --to-position: the same lines as the route; a tampered line fails verify', async () => {
    const vmFile = join(tmp.dir, 'vm.ndjson');
    const one = await runCli(['audit', 'export', '--vm', vmId, '--out', vmFile], asEnv());
    assert.equal(one.code, 0, one.stderr);
    assert.equal(one.stdout, `exported ${events.length} events to ${vmFile}\n`);
    assert.equal(readFileSync(vmFile, 'utf8'), await getText(`/v1/audit/export?vmId=${vmId}`));
    assert.equal(existsSync(`${vmFile}.partial`), false);

    const from = events[2]!.position as string;
    const to = events[events.length - 2]!.position as string;
    const rangeFile = join(tmp.dir, 'range.ndjson');
    const range = await runCli([
      'audit',
      'export',
      '--from-position',
      from,
      '--to-position',
      to,
      '--out',
      rangeFile,
      '--json',
      ...auditor(),
    ]);
    assert.equal(range.code, 0, range.stderr);
    const expected = await getText(`/v1/audit/export?fromPosition=${from}&toPosition=${to}`);
    assert.equal(readFileSync(rangeFile, 'utf8'), expected);
    assert.deepEqual(JSON.parse(range.stdout), {
      out: rangeFile,
      events: lines(expected).length,
      bytes: Buffer.byteLength(expected),
    });
    assert.equal((await runCli(['audit', 'verify', rangeFile])).code, 0);

    // Edit one exported event: the offline verify names it and exits 1.
    const all = lines(readFileSync(vmFile, 'utf8')).map((l) => JSON.parse(l) as Json);
    const victim = all.find((e) => e.type === 'VmStopRequested')!;
    victim.data.force = true;
    writeFileSync(vmFile, all.map((e) => JSON.stringify(e)).join('\n') + '\n');
    const broken = await runCli(['audit', 'verify', vmFile]);
    assert.equal(broken.code, 1, broken.stderr);
    assert.match(broken.stdout, new RegExp(`^BROKEN at vm-${vmId} revision ${victim.revision}: `));
  });

  test('unreachable server: "cannot reach" with ECONNREFUSED, exit 2, nothing on stdout, no file left', async () => {
    const dead = `http://127.0.0.1:${await closedPort()}`;
    const out = join(tmp.dir, 'never.ndjson');
    for (const args of [
      ['vm', 'state', vmId],
      ['vm', 'state', vmId, '--at', whileStopped.at],
      ['vm', 'history', vmId],
      ['vm', 'diff', vmId],
      ['audit', 'export'],
      ['audit', 'export', '--out', out],
    ]) {
      const r = await runCli([...args, '--server', dead, '--token', TOKENS.auditor]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, new RegExp(`^virtledger: cannot reach ${dead.replace(/[.]/g, '\\.')}: .*ECONNREFUSED`));
      assert.equal(r.stdout, '');
    }
    assert.equal(existsSync(out) || existsSync(`${out}.partial`), false);
  });

  test('refused token (401) and a role that may not (403): said so, exit 2; no export file left', async () => {
    for (const args of [
      ['vm', 'state', vmId],
      ['vm', 'history', vmId],
      ['vm', 'diff', vmId],
      ['audit', 'export'],
    ]) {
      const r = await runCli([...args, '--server', url, '--token', 'not-a-token']);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /^virtledger: token refused by .* \(401 Unauthorized\)/);
    }
    const out = join(tmp.dir, 'forbidden.ndjson');
    const exp = await runCli(['audit', 'export', '--out', out, '--server', url, '--token', TOKENS.viewer]);
    assert.equal(exp.code, 2);
    assert.match(exp.stderr, /token not allowed to \/v1\/audit\/export .*\(403 Forbidden\)/);
    assert.equal(existsSync(out) || existsSync(`${out}.partial`), false);
    const hist = await runCli(['vm', 'history', vmId], asEnv(TOKENS.viewer));
    assert.equal(hist.code, 2);
    assert.match(hist.stderr, new RegExp(`token not allowed to /v1/vms/${vmId}/events .*\\(403 Forbidden\\)`));
  });

  test("unknown VM, or a time before it existed: exit 3 with the server's reason", async () => {
    for (const args of [
      ['vm', 'state', UNKNOWN_VM],
      ['vm', 'history', UNKNOWN_VM],
      ['vm', 'diff', UNKNOWN_VM],
    ]) {
      const r = await runCli([...args, ...auditor()]);
      assert.equal(r.code, 3, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`^virtledger: not found \\(404\\): VM ${UNKNOWN_VM} not found\\n$`));
      assert.equal(r.stdout, '');
    }
    const early = await runCli(['vm', 'state', vmId, '--at', '2001-01-01T00:00:00Z', ...auditor()]);
    assert.equal(early.code, 3);
    assert.match(early.stderr, /not found \(404\): VM .* did not exist yet at 2001-01-01T00:00:00\.000Z/);
    const past = await runCli(['vm', 'state', vmId, '--revision', '9999', ...auditor()]);
    assert.equal(past.code, 3);
    assert.match(past.stderr, /has no revision 9999/);
  });

  test('bad options: one line naming the option, exit 2, the server not asked', async () => {
    const dead = `http://127.0.0.1:${await closedPort()}`;
    const cases: Array<[string[], RegExp]> = [
      [['vm', 'state', vmId, '--at', 'yesterday'], /--at must be an ISO 8601 time with a zone/],
      [['vm', 'state', vmId, '--at', '2030-01-01T10:00:00'], /--at must be an ISO 8601 time with a zone/],
      [['vm', 'state', vmId, '--revision', 'x'], /--revision must be a non-negative integer revision/],
      [['vm', 'state', vmId, '--revision', '1', '--at', whileStopped.at], /give --at or --revision, not both/],
      [['vm', 'diff', vmId, '--from', 'soon'], /--from must be a revision number or an ISO 8601 time/],
      [['vm', 'diff', vmId, '--to', '2024-02-30T00:00:00Z'], /--to must be a revision number or an ISO 8601 time/],
      [['audit', 'export', '--from-position', '-3'], /--from-position must be a non-negative integer position/],
      [['audit', 'export', '--from-position', '9', '--to-position', '3'], /--from-position must not be after/],
      [['audit', 'export', '--out', join(tmp.dir, 'no', 'such', 'dir.ndjson')], /cannot write .*dir\.ndjson: ENOENT/],
    ];
    for (const [args, message] of cases) {
      // A dead server: any attempt to reach it would say "cannot reach" instead.
      const r = await runCli([...args, '--server', dead, '--token', TOKENS.auditor]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.equal(lines(r.stderr).length, 1, r.stderr);
      assert.equal(r.stdout, '');
    }
    const unknown = await runCli(['vm', 'state', vmId, '--when', 'now']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown option '--when'/);
    const noId = await runCli(['vm', 'diff']);
    assert.equal(noId.code, 2);
    assert.match(noId.stderr, /missing required argument 'id'/);
    const noServer = await runCli(['vm', 'state', vmId]);
    assert.equal(noServer.code, 2);
    assert.match(noServer.stderr, /no server: pass --server <url> or set VIRTLEDGER_URL/);
  });

  test('a value only the server can judge (from after to, mixed kinds): its 400 message, exit 2', async () => {
    const r = await runCli(['vm', 'diff', vmId, '--from', String(events.length - 1), '--to', whileStopped.at], asEnv());
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^virtledger: refused by the server \(400\): from must not be after to/);
    const head = await runCli(['vm', 'diff', vmId, '--to', '9999'], asEnv());
    assert.equal(head.code, 2);
    assert.match(head.stderr, /to revision 9999 is past the latest revision/);
  });

  describe('an export cut off mid-stream (a stub HTTP server that drops the connection: the real one cannot be made to)', () => {
    let stub: Server;
    let stubUrl: string;
    before(async () => {
      stub = createServer((_req, res) => {
        res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
        res.write('{"position":"1","streamId":"vm-x","revision":0}\n{"position":"2","stre');
        setTimeout(() => res.destroy(), 50);
      });
      await new Promise<void>((r) => stub.listen(0, '127.0.0.1', () => r()));
      stubUrl = `http://127.0.0.1:${(stub.address() as AddressInfo).port}`;
    });
    after(async () => {
      stub.closeAllConnections();
      await new Promise<void>((r) => stub.close(() => r()));
    });

    test('exit 2 saying it was cut off, and no file passes for a whole export', async () => {
      const out = join(tmp.dir, 'cut.ndjson');
      const r = await runCli(['audit', 'export', '--out', out, '--server', stubUrl, '--token', 'x']);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /^virtledger: the export from .* was cut off after 1 events/);
      assert.equal(existsSync(out) || existsSync(`${out}.partial`), false);
      const piped = await runCli(['audit', 'export', '--server', stubUrl, '--token', 'x']);
      assert.equal(piped.code, 2);
      assert.match(piped.stderr, /was cut off after 1 events/);
    });
  });
});
