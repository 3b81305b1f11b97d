/**
 * The simulated driver's migration: the VM handed from one host's storage to another's, live or
 * not, each step idempotent, and what is left when a step fails or is aborted.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Progress, VmSpec } from '../../../src/drivers/hypervisor-driver.port.js';
import type { SimulatedDriver } from '../../../src/drivers/simulated/simulated.driver.js';
import { rejectsWith, simulatedHosts } from './simulated-hosts.js';

const { driver, spec } = simulatedHosts('vl-sim-mig-');

describe('simulated migration', () => {
  async function twoHosts(uri = 'simulated://'): Promise<{ src: SimulatedDriver; dst: SimulatedDriver; vm: VmSpec }> {
    const src = driver(uri);
    const dst = driver(uri);
    const vm = spec();
    await src.define(vm);
    return { src, dst, vm };
  }

  it('moves a running VM live through the file system, reporting progress, each step idempotent', async () => {
    const { src, dst, vm } = await twoHosts('simulated://?latencyMs=20');
    await src.start(vm);
    await src.snapshot(vm, 'before', { memory: true });
    const endpoint = await dst.prepareIncoming(vm, { live: true });
    assert.equal(endpoint.host, dst.host.storageDir);
    assert.equal(typeof endpoint.token, 'string');
    assert.deepEqual(await dst.prepareIncoming(vm, { live: true }), endpoint);
    assert.equal((await dst.status(vm)).state, 'migrating');
    await rejectsWith(dst.start(vm), 'conflict', /incoming/);

    const progress: Progress[] = [];
    // Looked at once the first step reported: the copy goes on for further steps after it.
    let firstReport: () => void = () => undefined;
    const reported = new Promise<void>((resolve) => (firstReport = resolve));
    const migrating = src.migrate(
      vm,
      endpoint,
      { live: true },
      {
        onProgress: (p) => {
          progress.push(p);
          firstReport();
        },
      },
    );
    await reported;
    assert.equal((await src.status(vm)).state, 'migrating');
    await migrating;
    assert.ok(progress.length >= 3, `progress reported ${progress.length} times`);
    assert.equal(progress.at(-1)?.percent, 100);
    assert.equal(progress.at(-1)?.totalBytes, 512 * 2 ** 20);
    assert.deepEqual(
      progress.map((p) => p.percent),
      [...progress.map((p) => p.percent)].sort((a, b) => (a ?? 0) - (b ?? 0)),
    );
    assert.equal((await src.status(vm)).state, 'absent');
    await src.migrate(vm, endpoint, { live: true });

    await dst.finishIncoming(vm, { live: true });
    await dst.finishIncoming(vm, { live: true });
    assert.equal((await dst.status(vm)).state, 'running');
    assert.deepEqual(
      (await dst.listSnapshots(vm)).map((s) => s.name),
      ['before'],
    );
    await rejectsWith(dst.abortIncoming(vm), 'conflict', /not an incoming/);
  });

  it('moves a stopped VM cold and leaves it stopped', async () => {
    const { src, dst, vm } = await twoHosts();
    await rejectsWith(
      src.migrate(vm, await dst.prepareIncoming(vm, { live: true }), { live: true }),
      'conflict',
      /stopped/,
    );
    await dst.abortIncoming(vm);
    const endpoint = await dst.prepareIncoming(vm, { live: false });
    await src.migrate(vm, endpoint, { live: false });
    await dst.finishIncoming(vm, { live: false });
    assert.equal((await dst.status(vm)).state, 'stopped');
    assert.equal((await src.status(vm)).state, 'absent');
  });

  it('refuses a target that was not prepared, and the source itself', async () => {
    const { src, dst, vm } = await twoHosts();
    await src.start(vm);
    await rejectsWith(
      src.migrate(vm, { host: dst.host.storageDir, token: 'forged' }, { live: true }),
      'conflict',
      /token/,
    );
    const endpoint = await dst.prepareIncoming(vm, { live: true });
    await rejectsWith(src.migrate(vm, { ...endpoint, token: 'other' }, { live: true }), 'conflict', /token/);
    await rejectsWith(
      src.migrate(vm, { host: src.host.storageDir, token: 'x' }, { live: true }),
      'conflict',
      /this host/,
    );
    await rejectsWith(src.migrate(vm, { host: 'relative', token: 'x' }, { live: true }), 'failed', /endpoint/);
    await rejectsWith(src.prepareIncoming(vm, { live: true }), 'conflict', /already defined/);
    await rejectsWith(dst.finishIncoming(vm, { live: true }), 'conflict', /not been received/);
  });

  it('aborts: a failed or timed-out migrate leaves the VM on the source and abortIncoming cleans the target', async () => {
    const { src, dst, vm } = await twoHosts('simulated://?failVerbs=migrate');
    await src.start(vm);
    const endpoint = await dst.prepareIncoming(vm, { live: true });
    const progress: Progress[] = [];
    await rejectsWith(src.migrate(vm, endpoint, { live: true }, { onProgress: (p) => progress.push(p) }), 'failed');
    assert.ok(progress.every((p) => (p.percent ?? 0) < 100));
    assert.equal((await src.status(vm)).state, 'running');
    await dst.abortIncoming(vm);
    await dst.abortIncoming(vm);
    assert.equal((await dst.status(vm)).state, 'absent');

    const hung = driver('simulated://?hangVerbs=migrate', src.host.storageDir);
    const again = await dst.prepareIncoming(vm, { live: true });
    await rejectsWith(hung.migrate(vm, again, { live: true }, { signal: AbortSignal.timeout(20) }), 'timeout');
    assert.equal((await src.status(vm)).state, 'running');
    await dst.abortIncoming(vm);
  });

  it('refuses to abort a copy that is the only one left after the hand-off', async () => {
    const { src, dst, vm } = await twoHosts();
    await src.start(vm);
    await src.migrate(vm, await dst.prepareIncoming(vm, { live: true }), { live: true });
    await rejectsWith(dst.abortIncoming(vm), 'conflict', /handed over/);
    assert.equal((await dst.listDomains())[0]?.state, 'migrating');
  });
});
