import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseSimulatedUri } from '../../../src/drivers/simulated/simulated-options.js';
import { SimulatedDriver } from '../../../src/drivers/simulated/simulated.driver.js';
import { killSimulatedFromOutside } from './kill-from-outside.js';
import { rejectsWith, simulatedHosts } from './simulated-hosts.js';

const hosts = simulatedHosts('vl-sim-');
const { driver, spec } = hosts;

describe('simulated URI', () => {
  it('has quiet defaults and every capability but acceleration', () => {
    const o = parseSimulatedUri('simulated://');
    assert.equal(o.latencyMs, 0);
    assert.equal(o.failureRate, 0);
    assert.equal(o.failVerbs, undefined);
    assert.equal(o.hangVerbs.size, 0);
    assert.deepEqual(o.capabilities, {
      liveMigration: true,
      coldMigration: true,
      memorySnapshots: true,
      diskSnapshots: true,
      pause: true,
      reboot: true,
      hardwareAcceleration: false,
      hotResize: { vcpus: 'any', memory: 'any', diskGrow: true },
    });
  });

  it('reads every parameter', () => {
    const o = parseSimulatedUri(
      'simulated://lab?latencyMs=5&failureRate=0.25&failVerbs=start,stop&hangVerbs=migrate&seed=42&liveMigration=false&pause=0',
    );
    assert.equal(o.latencyMs, 5);
    assert.equal(o.failureRate, 0.25);
    assert.deepEqual([...(o.failVerbs ?? [])], ['start', 'stop']);
    assert.deepEqual([...o.hangVerbs], ['migrate']);
    assert.equal(o.seed, 42);
    assert.equal(o.capabilities.liveMigration, false);
    assert.equal(o.capabilities.pause, false);
    assert.equal(o.capabilities.coldMigration, true);
  });

  it('makes failVerbs alone mean "always fail"', () => {
    assert.equal(parseSimulatedUri('simulated://?failVerbs=start').failureRate, 1);
  });

  for (const [uri, named] of [
    ['simulated://?latencyMs=-1', /latencyMs/],
    ['simulated://?latencyMs=1.5', /latencyMs/],
    ['simulated://?latencyMs=999999999', /latencyMs/],
    ['simulated://?failureRate=1.5', /failureRate/],
    ['simulated://?failureRate=abc', /failureRate/],
    ['simulated://?failVerbs=start,launch', /failVerbs.*launch/],
    ['simulated://?hangVerbs=', /hangVerbs/],
    ['simulated://?seed=x', /seed/],
    ['simulated://?pause=maybe', /pause/],
    ['simulated://?failurerate=1', /unknown parameter failurerate/],
    ['simulated://?seed=1&seed=2', /seed given twice/],
    ['qemu:///system', /scheme/],
    ['simulated://host/some/path', /path/],
    ['not a uri', /invalid URI/],
  ] as const) {
    it(`refuses ${uri}`, () => assert.throws(() => parseSimulatedUri(uri), named));
  }

  it('refuses a bad URI when the driver is built', () => {
    assert.throws(() => driver('simulated://?latencyMs=soon'), /latencyMs/);
  });
});

describe('simulated lifecycle', () => {
  it('walks define → start → pause → resume → reboot → stop → destroy, each verb idempotent', async () => {
    const d = driver();
    const vm = spec();
    assert.deepEqual(await d.status(vm), { state: 'absent' });
    await d.define(vm);
    await d.define(vm);
    assert.equal((await d.status(vm)).state, 'stopped');
    await d.start(vm);
    await d.start(vm);
    assert.equal((await d.status(vm)).state, 'running');
    await d.pause(vm);
    await d.pause(vm);
    assert.equal((await d.status(vm)).state, 'paused');
    await d.resume(vm);
    await d.resume(vm);
    await d.reboot(vm);
    assert.equal((await d.status(vm)).state, 'running');
    await d.stop(vm, { force: false });
    await d.stop(vm, { force: true });
    assert.equal((await d.status(vm)).state, 'stopped');
    await d.destroy(vm);
    await d.destroy(vm);
    assert.equal((await d.status(vm)).state, 'absent');
  });

  it('answers not_found for a VM that was never defined (destroy excepted)', async () => {
    const d = driver();
    const vm = spec();
    await rejectsWith(d.start(vm), 'not_found');
    await rejectsWith(d.stop(vm, { force: true }), 'not_found');
    await rejectsWith(d.pause(vm), 'not_found');
    await rejectsWith(d.snapshot(vm, 's', { memory: false }), 'not_found');
    await rejectsWith(d.listSnapshots(vm), 'not_found');
    await rejectsWith(d.finishIncoming(vm, { live: true }), 'not_found');
    await rejectsWith(killSimulatedFromOutside(d.host, vm.id), 'not_found');
    await d.destroy(vm);
  });

  it('refuses illegal transitions with conflict', async () => {
    const d = driver();
    const vm = spec();
    await d.define(vm);
    await rejectsWith(d.pause(vm), 'conflict', /stopped/);
    await rejectsWith(d.resume(vm), 'conflict', /stopped/);
    await rejectsWith(d.reboot(vm), 'conflict', /stopped/);
    await d.start(vm);
    await d.pause(vm);
    await rejectsWith(d.start(vm), 'conflict', /paused/);
    await rejectsWith(d.reboot(vm), 'conflict', /paused/);
  });

  it('refuses an id that could escape the storage directory', async () => {
    const d = driver();
    await rejectsWith(d.define({ ...spec(), id: '../etc' }), 'failed', /invalid VM id/);
    await rejectsWith(d.status({ ...spec(), id: 'a/b' }), 'failed', /invalid VM id/);
  });

  it('keeps its domains across a restart of the worker, one JSON file each, no temp files left', async () => {
    const dir = join(hosts.dir, 'restart');
    const first = driver('simulated://', dir);
    const a = spec();
    const b = spec();
    await first.define(a);
    await first.define(b);
    await first.start(a);
    await first.snapshot(b, 'clean', { memory: false });
    await first.close();

    const second = driver('simulated://', dir);
    assert.deepEqual(
      (await second.listDomains()).map((x) => [x.vmId, x.state, x.managed]),
      [
        [a.id, 'running', true],
        [b.id, 'stopped', true],
      ],
    );
    assert.deepEqual(
      (await second.listSnapshots(b)).map((s) => s.name),
      ['clean'],
    );
    assert.deepEqual(readdirSync(dir).sort(), [`${a.id}.sim.json`, `${b.id}.sim.json`]);
  });

  it('lists nothing for a storage directory that does not exist yet', async () => {
    const d = new SimulatedDriver({
      id: 'x',
      driver: 'simulated',
      uri: 'simulated://',
      storageDir: join(hosts.dir, 'nope'),
    });
    assert.deepEqual(await d.listDomains(), []);
  });

  it('shows a domain killed from outside as crashed, and starts it again', async () => {
    const d = driver();
    const vm = spec();
    await d.define(vm);
    await d.start(vm);
    await killSimulatedFromOutside(d.host, vm.id);
    const st = await d.status(vm);
    assert.equal(st.state, 'crashed');
    assert.match(st.detail ?? '', /outside/);
    await d.start(vm);
    assert.equal((await d.status(vm)).state, 'running');
  });
});

describe('simulated snapshots', () => {
  it('takes, lists, reverts and deletes snapshots; memory ones restore the running state', async () => {
    const d = driver();
    const vm = spec();
    await d.define(vm);
    await rejectsWith(d.snapshot(vm, 'mem', { memory: true }), 'conflict', /running or paused/);
    const disk = await d.snapshot(vm, 'disk', { memory: false });
    assert.equal(disk.memory, false);
    await d.start(vm);
    const mem = await d.snapshot(vm, 'mem', { memory: true });
    assert.deepEqual(await d.snapshot(vm, 'mem', { memory: true }), mem);
    await rejectsWith(d.snapshot(vm, 'mem', { memory: false }), 'conflict', /memory=true/);
    assert.deepEqual(
      (await d.listSnapshots(vm)).map((s) => [s.name, s.memory]),
      [
        ['disk', false],
        ['mem', true],
      ],
    );

    assert.equal(await d.revert(vm, 'disk'), 'stopped');
    assert.equal((await d.status(vm)).state, 'stopped');
    assert.equal(await d.revert(vm, 'mem'), 'running');
    assert.equal((await d.status(vm)).state, 'running');
    await rejectsWith(d.revert(vm, 'missing'), 'not_found');

    await d.deleteSnapshot(vm, 'disk');
    await d.deleteSnapshot(vm, 'disk');
    assert.deepEqual(
      (await d.listSnapshots(vm)).map((s) => s.name),
      ['mem'],
    );
  });
  it('verbs on one VM called at once each see the other: twenty concurrent snapshots all persist', async () => {
    // The files are written asynchronously: without the per-VM lock, reads and writes would interleave
    // and most of these snapshots would be lost (each call writing its own read-modify-write over the others).
    const d = driver();
    const vm = spec();
    await d.define(vm);
    const names = Array.from({ length: 20 }, (_, i) => `s${String(i).padStart(2, '0')}`);
    await Promise.all(names.map((name) => d.snapshot(vm, name, { memory: false })));
    assert.deepEqual((await d.listSnapshots(vm)).map((s) => s.name).sort(), names);
    // A second driver on the same directory (a restarted worker) finds them on disk.
    const again = new SimulatedDriver({ ...d.host });
    assert.equal((await again.listSnapshots(vm)).length, names.length);
  });
});

describe('simulated capabilities', () => {
  it('declares what the URI says and refuses the rest as unsupported', async () => {
    const d = driver(
      'simulated://?pause=false&memorySnapshots=false&liveMigration=false&reboot=false&hardwareAcceleration=true',
    );
    assert.equal(d.capabilities.pause, false);
    assert.equal(d.capabilities.hardwareAcceleration, true);
    assert.ok(Object.isFrozen(d.capabilities));
    const vm = spec();
    await d.define(vm);
    await d.start(vm);
    await rejectsWith(d.pause(vm), 'unsupported', /pause/);
    await rejectsWith(d.resume(vm), 'unsupported', /pause/);
    await rejectsWith(d.reboot(vm), 'unsupported', /reboot/);
    await rejectsWith(d.snapshot(vm, 's', { memory: true }), 'unsupported', /memorySnapshots/);
    await d.snapshot(vm, 's', { memory: false });
    await rejectsWith(d.prepareIncoming(vm, { live: true }), 'unsupported', /liveMigration/);
    await rejectsWith(d.migrate(vm, { host: '/x', token: 't' }, { live: true }), 'unsupported', /liveMigration/);
  });
});

describe('simulated faults', () => {
  it('fails every eligible verb at failureRate=1, but never status or listDomains', async () => {
    const healthy = driver();
    const vm = spec();
    await healthy.define(vm);
    const flaky = driver('simulated://?failureRate=1', healthy.host.storageDir);
    await rejectsWith(flaky.start(vm), 'failed', /^simulated failure: start$/);
    await rejectsWith(flaky.destroy(vm), 'failed', /^simulated failure: destroy$/);
    assert.equal((await flaky.status(vm)).state, 'stopped');
    assert.equal((await flaky.listDomains()).length, 1);
  });

  it('fails only failVerbs when given', async () => {
    const d = driver('simulated://?failVerbs=start,status');
    const vm = spec();
    await d.define(vm);
    await rejectsWith(d.start(vm), 'failed', /simulated failure: start/);
    await rejectsWith(d.status(vm), 'failed', /simulated failure: status/);
    await d.stop(vm, { force: false });
  });

  it('fails the same calls for the same seed', async () => {
    const outcomes = async (): Promise<boolean[]> => {
      const d = driver('simulated://?failureRate=0.5&seed=7');
      const vm = spec();
      await d.destroy(vm).catch(() => undefined);
      const out: boolean[] = [];
      for (let i = 0; i < 40; i++)
        out.push(
          await d.destroy(vm).then(
            () => true,
            () => false,
          ),
        );
      return out;
    };
    const first = await outcomes();
    assert.deepEqual(await outcomes(), first);
    assert.ok(first.includes(true) && first.includes(false), 'a rate of 0.5 should give both outcomes');
  });

  it('waits latencyMs on each verb, and a deadline turns into timeout with nothing changed', async () => {
    const d = driver('simulated://?latencyMs=60');
    const vm = spec();
    const t0 = performance.now();
    await d.define(vm);
    assert.ok(performance.now() - t0 >= 55, 'define should take the configured latency');
    await rejectsWith(d.start(vm, { signal: AbortSignal.timeout(10) }), 'timeout');
    assert.equal((await d.status(vm)).state, 'stopped');
  });

  it('hangs hangVerbs until the signal aborts, then rejects with timeout', async () => {
    const d = driver('simulated://?hangVerbs=start');
    const vm = spec();
    await d.define(vm);
    const ac = new AbortController();
    let settled = false;
    const p = d.start(vm, { signal: ac.signal }).finally(() => (settled = true));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(settled, false, 'a hung verb must not settle by itself');
    ac.abort(new Error('deadline'));
    await rejectsWith(p, 'timeout');
    assert.equal((await d.status(vm)).state, 'stopped');
    await rejectsWith(d.start(vm, { signal: AbortSignal.abort() }), 'timeout');
  });
});
describe('simulated resizeLive', () => {
  it('resizes a running VM within its ceilings, both ways; refuses past them, a stopped VM, and a host without hotResize', async () => {
    const d = driver('simulated://');
    const vm = { ...spec(), vcpus: 1, memoryMiB: 64, diskGiB: 1, maxVcpus: 4, maxMemoryMiB: 256 };
    await d.define(vm);
    await rejectsWith(d.resizeLive(vm, { vcpus: 2, memoryMiB: 64, diskGiB: 1 }), 'conflict', /resize/);
    await d.start(vm);
    await d.resizeLive(vm, { vcpus: 4, memoryMiB: 256, diskGiB: 3 });
    await d.resizeLive(vm, { vcpus: 4, memoryMiB: 256, diskGiB: 3 });
    const grown = { ...vm, vcpus: 4, memoryMiB: 256, diskGiB: 3 };
    await d.resizeLive(grown, { vcpus: 1, memoryMiB: 32, diskGiB: 3 });
    await rejectsWith(d.resizeLive(vm, { vcpus: 5, memoryMiB: 64, diskGiB: 1 }), 'invalid', /ceiling 4/);
    await rejectsWith(d.resizeLive(grown, { vcpus: 4, memoryMiB: 256, diskGiB: 2 }), 'unsupported', /diskGiB/);
    const cold = driver('simulated://?hotResize=false');
    await cold.define(vm);
    await cold.start(vm);
    await rejectsWith(cold.resizeLive(vm, { vcpus: 2, memoryMiB: 64, diskGiB: 1 }), 'unsupported', /hotResize/);
  });
});
