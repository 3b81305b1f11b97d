/**
 * The serial console through the API, with real QEMU under TCG booting the test guest: the
 * WebSocket goes API ↔ the host's worker (BullMQ request + Redis pub/sub), the worker attaches
 * to QEMU's chardev socket. An operator types and reads the guest's answer; a viewer watching
 * the same console cannot type; each session is a ConsoleOpened/ConsoleClosed pair with its
 * principal; the log shows GUEST-READY; the CLI works with a pipe; another project's tenant
 * gets 404 before any upgrade; a stopped VM's console is a 409.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startTestApp, TOKENS, waitOperation, type TestApp } from '../../support/app.js';
import { runCli } from '../../support/cli.js';
import { ConsoleClient, UpgradeRefused } from '../../support/console-client.js';
import { tempDir } from '../../support/env.js';
import { putImage } from '../../support/image-files.js';
import { tokenOf, writeAuthFile } from '../../support/users.js';
import { waitFor } from '../../support/wait.js';
import { guestBundle } from './guest-console.js';

const hasQemu = spawnSync('qemu-system-x86_64', ['--version']).status === 0;

async function refusal(p: Promise<unknown>): Promise<UpgradeRefused> {
  try {
    await p;
  } catch (err) {
    if (err instanceof UpgradeRefused) return err;
    throw err;
  }
  assert.fail('the upgrade was accepted');
}

describe(
  'serial console of a qemu VM through the API (real QEMU under TCG)',
  { skip: hasQemu ? false : 'qemu-system-x86_64 not installed' },
  () => {
    let t: TestApp;
    let port: number;
    let vmId: string;
    const storage = tempDir('vl-qemu-console-');
    const users = tempDir('vl-qemu-console-users-');
    const hostId = 'qemu-console';

    const consoleEvents = async () =>
      (await t.runtime.store!.readStream(`console-${vmId}`).catch(() => [])).map((e) => ({
        type: e.type,
        principal: e.metadata.principal,
        data: e.data,
      }));

    before(async () => {
      const authFile = writeAuthFile(users.dir, [{ name: 'tenant', role: 'operator', projects: ['other'] }]);
      t = await startTestApp({ env: { AUTH_FILE: authFile } });
      await t.app.listen(0, '127.0.0.1');
      port = (t.app.getHttpServer().address() as AddressInfo).port;
      const host = await t.as('admin').post('/v1/hosts', {
        id: hostId,
        name: hostId,
        driver: 'qemu',
        uri: `qemu:///system?storage=${storage.dir}&stopTimeoutMs=2000&accel=tcg`,
        capacity: { vcpus: 8, memoryMiB: 4096 },
      });
      assert.equal(host.status, 201, JSON.stringify(host.body));
      const bundle = guestBundle();
      const up = await putImage(t, 'guest', bundle);
      assert.equal(up.status, 201, JSON.stringify(up.body));
      const res = await t
        .as('operator')
        .post('/v1/vms', { name: 'console-vm', vcpus: 1, memoryMiB: 128, diskGiB: 1, hostId, image: 'guest' });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      vmId = res.body.vmId as string;
      assert.equal((await waitOperation(t, res.body.operationId as string, 90_000)).status, 'succeeded');
    });

    after(async () => {
      if (vmId) {
        const del = await t.as('operator').delete(`/v1/vms/${vmId}`);
        if (del.status === 202) await waitOperation(t, del.body.operationId as string, 60_000).catch(() => undefined);
      }
      await t?.close();
      storage.cleanup();
      users.cleanup();
    });

    test('console/log?tail= shows GUEST-READY once the guest has booted', async () => {
      const lines = await waitFor(
        async () => {
          const res = await t.as('viewer').get(`/v1/vms/${vmId}/console/log?tail=200`);
          assert.equal(res.status, 200, JSON.stringify(res.body));
          return (res.body.lines as string[]).some((l) => l.includes('GUEST-READY'))
            ? (res.body.lines as string[])
            : false;
        },
        { what: 'GUEST-READY in the console log', timeoutMs: 120_000, intervalMs: 500 },
      );
      assert.ok(lines.length <= 200);
      const bad = await t.as('viewer').get(`/v1/vms/${vmId}/console/log?tail=abc`);
      assert.equal(bad.status, 400);
      assert.match(String(bad.body.message), /tail/);
    });

    test('an operator types and reads the echo; a viewer on the same console reads but cannot type; both recorded', async () => {
      const operator = await ConsoleClient.open(port, vmId, { token: TOKENS.operator });
      const viewer = await ConsoleClient.open(port, vmId, { token: TOKENS.viewer });
      try {
        const n = 10_000 + Math.floor(Math.random() * 50_000);
        // `$((…))` is only in the typed line: the expected text appears only when the guest's shell ran it.
        operator.type(`echo hello-$((${n} + 1))\n`);
        await operator.waitForOutput(`hello-${n + 1}`, 30_000);
        await viewer.waitForOutput(`hello-${n + 1}`, 30_000);

        viewer.type(`echo viewer-$((${n} + 2))\n`);
        await viewer.waitForNotice(/read-only/);
        // Anything the viewer's keys had reached would come back before this marker does.
        operator.type(`echo after-$((${n} + 3))\n`);
        await operator.waitForOutput(`after-${n + 3}`, 30_000);
        assert.ok(!operator.output.includes('viewer-'), 'a viewer keystroke reached the guest');
        assert.ok(!operator.output.includes(`${n + 2}`), 'a viewer keystroke reached the guest');
      } finally {
        await operator.close();
        await viewer.close();
      }
      const events = await waitFor(
        async () => {
          const e = await consoleEvents();
          return e.filter((x) => x.type === 'ConsoleClosed').length >= 2 ? e : false;
        },
        { what: 'two ConsoleClosed events' },
      );
      const opened = events.filter((e) => e.type === 'ConsoleOpened');
      assert.deepEqual(
        opened.map((e) => [e.principal, e.data.mode, e.data.hostId]).sort(),
        [
          [events.find((e) => e.data.mode === 'read-write')!.principal, 'read-write', hostId],
          [events.find((e) => e.data.mode === 'read-only')!.principal, 'read-only', hostId],
        ].sort(),
      );
      assert.match(String(opened.find((e) => e.data.mode === 'read-write')!.principal), /^operator#/);
      assert.match(String(opened.find((e) => e.data.mode === 'read-only')!.principal), /^viewer#/);
      for (const e of events) assert.equal(e.data.vmId, vmId);
      // The VM's own stream is untouched by console sessions.
      const vmEvents = await t.runtime.store!.readStream(`vm-${vmId}`);
      assert.ok(!vmEvents.some((e) => e.type.startsWith('Console')));
    });

    test('a browser ticket opens the console once; it is read-only for a viewer', async () => {
      const res = await t.as('viewer').post(`/v1/vms/${vmId}/console/ticket`);
      assert.equal(res.status, 201, JSON.stringify(res.body));
      assert.equal(res.body.mode, 'read-only');
      const ticket = res.body.ticket as string;
      const c = await ConsoleClient.open(port, vmId, { ticket });
      c.type('x');
      await c.waitForNotice(/read-only/);
      await c.close();
      const again = await refusal(ConsoleClient.open(port, vmId, { ticket }));
      assert.equal(again.status, 401);
      assert.match(again.body, /ticket/);
    });

    test('refusals before any upgrade: no token 401, another project 404, plain GET 426; nothing recorded', async () => {
      // The sessions of the tests before are closed, but their ConsoleClosed may still be on its way: count after it.
      const before = (
        await waitFor(
          async () => {
            const e = await consoleEvents();
            const count = (type: string) => e.filter((x) => x.type === type).length;
            return count('ConsoleOpened') === count('ConsoleClosed') ? e : false;
          },
          { what: 'every earlier console session recorded as closed' },
        )
      ).length;
      assert.equal((await refusal(ConsoleClient.open(port, vmId, {}))).status, 401);
      const other = await refusal(ConsoleClient.open(port, vmId, { token: tokenOf('tenant') }));
      assert.equal(other.status, 404);
      assert.match(other.body, /not found/);
      const plain = await t.as('operator').get(`/v1/vms/${vmId}/console`);
      assert.equal(plain.status, 426, JSON.stringify(plain.body));
      assert.equal((await consoleEvents()).length, before);
    });

    test('the CLI with a pipe: typed lines reach the guest, the answer comes back on stdout', async () => {
      const n = 70_000 + Math.floor(Math.random() * 10_000);
      const res = await runCliWithInput(
        ['vm', 'console', vmId, '--until', `cli-${n * 2}`],
        `echo cli-$((${n} * 2))\n`,
        { VIRTLEDGER_URL: `http://127.0.0.1:${port}`, VIRTLEDGER_TOKEN: TOKENS.operator },
      );
      assert.equal(res.code, 0, res.stderr);
      assert.ok(res.stdout.includes(`cli-${n * 2}`), res.stdout);
      const log = await runCli(['vm', 'console-log', vmId, '--tail', '500'], {
        env: { VIRTLEDGER_URL: `http://127.0.0.1:${port}`, VIRTLEDGER_TOKEN: TOKENS.viewer },
      });
      assert.equal(log.code, 0, log.stderr);
      assert.match(log.stdout, /GUEST-READY/);
    });

    test('the CLI on a terminal (a pty from script(1)): raw keys reach the guest, Ctrl-] leaves with exit 0', async (s) => {
      if (spawnSync('script', ['--version']).status !== 0) {
        s.skip('script (util-linux) not installed: no pty to run the CLI on');
        return;
      }
      const { spawn } = await import('node:child_process');
      const { CLI } = await import('../../support/cli.js');
      const env = { ...process.env, VIRTLEDGER_URL: `http://127.0.0.1:${port}`, VIRTLEDGER_TOKEN: TOKENS.operator };
      // script gives the CLI a pty as stdin and stdout; what we write to script's stdin is typed on it.
      const p = spawn('script', ['-qfec', `${process.execPath} ${CLI} vm console ${vmId}`, '/dev/null'], {
        env,
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let output = '';
      p.stdout.on('data', (d: Buffer) => (output += d.toString()));
      p.stderr.on('data', (d: Buffer) => (output += d.toString()));
      const exited = new Promise<number | null>((resolve) => p.on('close', resolve));
      await waitFor(() => output.includes('attached (read-write)'), { what: 'the CLI attached', timeoutMs: 30_000 });
      // Raw mode: Enter is a carriage return, as a terminal sends it.
      p.stdin.write('echo tty-$((6 * 7))\r');
      await waitFor(() => output.includes('tty-42'), {
        what: `tty-42 on the terminal; got ${JSON.stringify(output.slice(-300))}`,
        timeoutMs: 30_000,
      });
      p.stdin.write(Buffer.from([0x1d]));
      assert.equal(await exited, 0, output);
      assert.match(output, /left \(Ctrl-\]\)/);
    });

    test('a stopped VM has no console: 409 naming the state; the open session is told it ended', async () => {
      const watching = await ConsoleClient.open(port, vmId, { token: TOKENS.operator });
      const stop = await t.as('operator').post(`/v1/vms/${vmId}/stop`, { force: true });
      assert.equal(stop.status, 202);
      assert.equal((await waitOperation(t, stop.body.operationId as string, 60_000)).status, 'succeeded');
      const closed = await watching.closed;
      assert.equal(closed.code, 1000);
      assert.ok(
        watching.notices.some((n) => n.type === 'closed'),
        JSON.stringify(watching.notices),
      );
      const refused = await refusal(ConsoleClient.open(port, vmId, { token: TOKENS.operator }));
      assert.equal(refused.status, 409);
      assert.match(refused.body, /stopped/);
    });
  },
);

/** The CLI with `input` on its stdin (a pipe, not a TTY). */
async function runCliWithInput(
  args: string[],
  input: string,
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { spawn } = await import('node:child_process');
  const { CLI } = await import('../../support/cli.js');
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
    p.stdin.end(input);
  });
}
