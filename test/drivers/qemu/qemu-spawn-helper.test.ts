import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { SpawnHelper, spawnHelper } from '../../../src/drivers/kit/spawn-helper.js';
import { isOurQemu, listQemuProcesses, spawnQemu } from '../../../src/drivers/qemu/qemu-process.js';
import { waitFor } from '../../support/wait.js';
import { QemuTestEnv, vmSpec } from './qemu-test-env.js';

const QEMU = 'qemu-system-x86_64';
const SPAWN_DETACHED_URL = new URL('../../../src/drivers/kit/spawn-detached.js', import.meta.url).href;

function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function kill(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

describe('qemu driver: QEMU spawned by the spawn helper (real qemu)', () => {
  const env = new QemuTestEnv('vl-qemu-helper-');
  const helpers: SpawnHelper[] = [];
  after(async () => {
    for (const h of helpers) h.stop();
    await env.cleanup();
  });
  const driver = env.driver('host-h');

  test('a VM started through the helper keeps running when the helper dies; the next start works without it', async () => {
    const helperPid = await waitFor(() => spawnHelper().pid, { what: 'the driver to start the spawn helper' });
    const spec = vmSpec();
    await driver.define(spec);
    await driver.start(spec);
    const running = await driver.status(spec);
    assert.equal(running.state, 'running');
    assert.equal(parentOf(running.pid!), helperPid, 'QEMU was spawned by the helper, not by this process');

    kill(helperPid);
    await waitFor(() => spawnHelper().pid !== helperPid, { what: 'the helper to be seen gone' });
    assert.deepEqual(await driver.status(spec), running, 'QEMU outlives the helper');

    await driver.stop(spec, { force: true });
    await driver.start(spec);
    const again = await driver.status(spec);
    assert.equal(again.state, 'running');
    assert.notEqual(again.pid, running.pid);
    await driver.destroy(spec);
  });

  /** QEMU with nothing to run, writing `pidFile`; under the env's root, so cleanup finds it. */
  function bareQemu(name: string): { args: string[]; log: string; pidFile: string } {
    const dir = join(env.root, name);
    mkdirSync(dir, { recursive: true });
    const pidFile = join(dir, 'qemu.pid');
    const args = ['-name', name, '-machine', 'none', '-nodefaults', '-display', 'none', '-S', '-pidfile', pidFile];
    return { args, log: join(dir, 'qemu.log'), pidFile };
  }

  /** A helper that says it is ready, then on the first request does `onRequest` and dies without answering. */
  async function dyingHelper(name: string, onRequest: string): Promise<SpawnHelper> {
    const fixture = join(env.root, `${name}.mjs`);
    writeFileSync(
      fixture,
      `import { spawnDetached } from ${JSON.stringify(SPAWN_DETACHED_URL)};\n` +
        `process.send({ ready: true });\n` +
        `process.on('message', (m) => { ${onRequest} process.exit(3); });\n`,
    );
    const helper = new SpawnHelper(fixture);
    helpers.push(helper);
    helper.warm();
    await waitFor(() => helper.pid, { what: `the ${name} helper to be ready` });
    return helper;
  }

  test('a helper that died after starting QEMU: its QEMU is found by the pidfile, no second one is started', async () => {
    const q = bareQemu('lost-after-spawn');
    const helper = await dyingHelper('spawns-then-dies', 'spawnDetached(m.binary, m.args, m.logPath);');
    const pid = await spawnQemu(QEMU, q.args, q.log, q.pidFile, helper);
    env.track(pid);
    assert.ok(isOurQemu(pid, q.pidFile));
    assert.notEqual(parentOf(pid), process.pid, 'the helper started it, not this process');
    await waitFor(() => readText(q.pidFile)?.trim() === String(pid), { what: 'that QEMU to write the pidfile' });
    const withPidFile = listQemuProcesses().filter((p) => p.argv.includes(q.pidFile));
    assert.deepEqual(
      withPidFile.map((p) => p.pid),
      [pid],
    );
  });

  test('a helper that died before starting QEMU: QEMU is started here', async () => {
    const q = bareQemu('lost-before-spawn');
    const helper = await dyingHelper('dies-at-once', '');
    const pid = await spawnQemu(QEMU, q.args, q.log, q.pidFile, helper);
    env.track(pid);
    assert.ok(isOurQemu(pid, q.pidFile));
    assert.equal(parentOf(pid), process.pid);
  });
});
