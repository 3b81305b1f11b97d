import assert from 'node:assert/strict';
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { DriverError } from '../../src/drivers/hypervisor-driver.port.js';
import { runTool } from '../../src/drivers/kit/run-tool.js';
import { SpawnHelper, SpawnHelperLostError, spawnHelper } from '../../src/drivers/kit/spawn-helper.js';
import { tempDir } from '../support/env.js';
import { waitFor } from '../support/wait.js';

/** ppid, process group and session of a live process (fields 4–6 of /proc/<pid>/stat). */
function procIds(pid: number): { ppid: number; pgrp: number; session: number; state: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: f[0]!, ppid: Number(f[1]), pgrp: Number(f[2]), session: Number(f[3]) };
  } catch {
    return undefined;
  }
}

const alive = (pid: number): boolean => {
  const s = procIds(pid)?.state;
  return s !== undefined && s !== 'Z' && s !== 'X';
};

function kill(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

async function readyHelper(helper: SpawnHelper): Promise<number> {
  helper.warm();
  return waitFor(() => helper.pid, { what: 'the spawn helper to be ready' });
}

describe('spawn helper: detached programs started by a small child process', () => {
  const { dir, cleanup } = tempDir('vl-spawn-helper-');
  const started: number[] = [];
  const helpers: SpawnHelper[] = [];
  const newHelper = (childPath?: string): SpawnHelper => {
    const h = new SpawnHelper(childPath);
    helpers.push(h);
    return h;
  };
  after(() => {
    for (const pid of started) kill(pid);
    for (const h of helpers) h.stop();
    cleanup();
  });

  test('argv reaches the program verbatim (no shell), its output goes to the log, it runs in its own session under the helper and outlives it', async () => {
    const helper = newHelper();
    const helperPid = await readyHelper(helper);
    const log = join(dir, 'echo.log');
    await helper.spawnDetached('/bin/echo', ['a b', '$(id)', ';', '*', '`x`'], log);
    await waitFor(() => readFileSync(log, 'utf8') === 'a b $(id) ; * `x`\n', { what: 'echo to write its argv' });

    const pid = await helper.spawnDetached('/bin/sleep', ['300'], join(dir, 'sleep.log'));
    started.push(pid);
    assert.deepEqual(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0'), ['/bin/sleep', '300', '']);
    const ids = procIds(pid);
    assert.equal(ids?.ppid, helperPid, 'started by the helper, not by this process');
    assert.equal(ids?.pgrp, pid, 'its own process group');
    assert.equal(ids?.session, pid, 'its own session');
    // Nothing the helper holds (its IPC channel to us) leaks into the program: any fd beyond
    // stdio is one this process was given too (inherited from whoever started the tests).
    for (const fd of readdirSync(`/proc/${pid}/fd`).filter((f) => Number(f) > 2)) {
      assert.equal(readlinkSync(`/proc/${pid}/fd/${fd}`), readlinkSync(`/proc/self/fd/${fd}`), `fd ${fd}`);
    }

    kill(helperPid);
    await waitFor(() => !alive(helperPid), { what: 'the helper to die' });
    assert.ok(alive(pid), 'the program outlives the helper');
  });

  test('a program that cannot be started is an error, and the helper keeps serving', async () => {
    const helper = newHelper();
    const helperPid = await readyHelper(helper);
    await assert.rejects(helper.spawnDetached(join(dir, 'no-such-binary'), [], join(dir, 'x.log')), /ENOENT|spawn/);
    const pid = await helper.spawnDetached('/bin/sleep', ['300'], join(dir, 'sleep2.log'));
    started.push(pid);
    assert.equal(procIds(pid)?.ppid, helperPid);
  });

  test('after the helper died, the next program is started by this process and a new helper comes up', async () => {
    const helper = newHelper();
    const first = await readyHelper(helper);
    kill(first);
    await waitFor(() => helper.pid === undefined, { what: 'the helper to be seen gone' });

    const direct = await helper.spawnDetached('/bin/sleep', ['300'], join(dir, 'sleep3.log'));
    started.push(direct);
    assert.equal(procIds(direct)?.ppid, process.pid, 'fallback: spawned here');
    assert.equal(procIds(direct)?.pgrp, direct, 'still in its own process group');

    const second = await waitFor(() => helper.pid, { what: 'a new helper' });
    assert.notEqual(second, first);
    const viaNew = await helper.spawnDetached('/bin/sleep', ['300'], join(dir, 'sleep4.log'));
    started.push(viaNew);
    assert.equal(procIds(viaNew)?.ppid, second);
  });

  test('a tool run by the helper: its output, its failure, its timeout and an abort, as if run here', async () => {
    const helper = newHelper();
    await readyHelper(helper);
    assert.deepEqual(await helper.run('/bin/echo', ['a b', '$HOME'], { timeoutMs: 10_000 }), {
      stdout: 'a b $HOME\n',
      stderr: '',
    });
    const failed = await helper.run('/bin/ls', [join(dir, 'missing')], { timeoutMs: 10_000 });
    assert.match(failed.stderr, /missing/);
    // ls exits 2 for a missing operand (coreutils); the status crosses the helper's IPC as it is.
    assert.deepEqual({ ...failed.failure, message: '' }, { message: '', aborted: false, timedOut: false, exitCode: 2 });
    const slow = await helper.run('/bin/sleep', ['300'], { timeoutMs: 200 });
    assert.equal(slow.failure?.timedOut, true);
    const abort = new AbortController();
    const running = helper.run('/bin/sleep', ['300'], { timeoutMs: 60_000, signal: abort.signal });
    abort.abort();
    assert.equal((await running).failure?.aborted, true);
  });

  test('runTool via the helper gives the same DriverErrors as run here', async () => {
    await readyHelper(spawnHelper());
    await assert.rejects(
      runTool('/bin/ls', [join(dir, 'missing')], { timeoutMs: 10_000, viaHelper: true }),
      (err) => err instanceof DriverError && err.code === 'failed' && /missing/.test(err.message),
    );
    await assert.rejects(
      runTool('/bin/sleep', ['300'], { timeoutMs: 200, viaHelper: true }),
      (err) => err instanceof DriverError && err.code === 'timeout',
    );
    assert.equal(await runTool('/bin/echo', ['x'], { timeoutMs: 10_000, viaHelper: true }), 'x\n');
  });

  test('a request the helper dies with is rejected as lost, not left hanging', async () => {
    // A helper that says it is ready and dies on the first request it gets.
    const fixture = join(dir, 'dies-on-request.mjs');
    writeFileSync(fixture, "process.send({ ready: true });\nprocess.on('message', () => process.exit(3));\n");
    const helper = newHelper(fixture);
    await readyHelper(helper);
    await assert.rejects(helper.spawnDetached('/bin/true', [], join(dir, 't.log')), SpawnHelperLostError);
    await readyHelper(helper); // a new one, that dies the same way
    await assert.rejects(helper.run('/bin/true', [], { timeoutMs: 10_000 }), SpawnHelperLostError);
  });
});
