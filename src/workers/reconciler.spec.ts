import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import type { ObservedResult, ResultMessage } from '../application/jobs.js';
import type { VmStateName } from '../domain/vm/vm.types.js';
import type { DomainInfo, DomainState } from '../drivers/hypervisor-driver.port.js';
import { RecordingDriver } from '../../test/support/recording-driver.js';
import type { ExpectedVm, ExpectedVms } from './expected-vms.port.js';
import { Reconciler } from './reconciler.js';

const HOST = 'host-a';
const NOW = Date.parse('2026-06-01T12:00:00.000Z');
const STUCK_AFTER_MS = 60_000;
const LONG_AGO = new Date(NOW - 10 * STUCK_AFTER_MS).toISOString();
const JUST_NOW = new Date(NOW - 1000).toISOString();

function vm(id: string, state: VmStateName, extra: Partial<ExpectedVm> = {}): ExpectedVm {
  return {
    id,
    spec: { name: id, vcpus: 1, memoryMiB: 256, diskGiB: 1 },
    state,
    pendingOperationId: null,
    migrationTargetHostId: null,
    updatedAt: LONG_AGO,
    revision: '7',
    ...extra,
  };
}

/** The control plane's expectations: a fixed list, filtered the way the port promises. */
class Expectations implements ExpectedVms {
  /** VMs the control plane has on another host (of the same driver, on the same machine). */
  readonly elsewhere = new Set<string>();
  /** VMs recovered onto another host after a fence: a copy here is stale. */
  readonly recoveredAway = new Set<string>();
  constructor(public vms: ExpectedVm[]) {}
  async staleCopy(hostId: string, vmId: string): Promise<ExpectedVm['spec'] | undefined> {
    return hostId === HOST && this.recoveredAway.has(vmId) ? vm(vmId, 'running').spec : undefined;
  }
  async placedElsewhere(hostId: string, vmId: string): Promise<boolean> {
    return hostId === HOST && this.elsewhere.has(vmId);
  }
  async onHost(hostId: string): Promise<ExpectedVm[]> {
    return hostId === HOST ? this.vms : [];
  }
  async one(hostId: string, vmId: string): Promise<ExpectedVm | undefined> {
    return hostId === HOST ? this.vms.find((v) => v.id === vmId) : undefined;
  }
}

/** The queues: which operations still have a job (per host), and what was posted on results. */
class Queues {
  readonly posted: Array<{ jobId: string; message: ResultMessage }> = [];
  readonly live = new Set<string>();
  async hasLiveJob(hostId: string, operationId: string): Promise<boolean> {
    return this.live.has(`${hostId}/${operationId}`);
  }
  async postResult(jobId: string, message: ResultMessage): Promise<void> {
    this.posted.push({ jobId, message });
  }
}

function setup(vms: ExpectedVm[], domains: Record<string, DomainState | { state: DomainState; detail: string }>) {
  const driver = new RecordingDriver();
  for (const [id, d] of Object.entries(domains)) driver.statuses.set(id, typeof d === 'string' ? { state: d } : d);
  const queues = new Queues();
  const warnings: Array<{ domains?: string[]; msg: string }> = [];
  // Warnings are kept (as the log lines an operator would read); nothing else is written.
  const log = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line)) });
  const expectations = new Expectations(vms);
  const reconciler = new Reconciler(HOST, driver, expectations, queues, log, STUCK_AFTER_MS);
  return { driver, queues, reconciler, expectations, warnings };
}

function observation(vmId: string, observed: ObservedResult['observed'], reason: string, jobActive = false) {
  return {
    jobId: `reconcile.${vmId}.7.${observed}`,
    message: {
      kind: 'observed',
      vmId,
      hostId: HOST,
      observed,
      reason,
      jobActive,
      principal: `system:reconciler@${HOST}`,
      revision: '7',
    } satisfies ObservedResult,
  };
}

describe('reconciler', () => {
  it('reports a running VM whose domain is gone, crashed or stopped, with the driver detail as reason', async () => {
    const { queues, reconciler } = setup([vm('gone', 'running'), vm('dead', 'running'), vm('off', 'paused')], {
      dead: { state: 'crashed', detail: 'qemu exited with signal 9' },
      off: 'stopped',
    });
    const report = await reconciler.sweep(NOW);
    assert.deepEqual(queues.posted, [
      observation('gone', 'absent', 'the driver reports absent'),
      observation('dead', 'crashed', 'qemu exited with signal 9'),
      observation('off', 'stopped', 'the driver reports stopped'),
    ]);
    assert.deepEqual(report, { checked: 3, reported: 3, unmanaged: [], staleStopped: [] });
  });

  it('says nothing when the driver agrees, including a stopped VM whose domain is absent or crashed', async () => {
    const { queues, reconciler } = setup(
      [vm('a', 'running'), vm('b', 'paused'), vm('c', 'stopped'), vm('d', 'stopped'), vm('e', 'stopped')],
      { a: 'running', b: 'paused', c: 'stopped', e: 'crashed' },
    );
    const report = await reconciler.sweep(NOW);
    assert.deepEqual(queues.posted, []);
    assert.deepEqual(report, { checked: 5, reported: 0, unmanaged: [], staleStopped: [] });
  });

  it('concludes nothing from a domain the driver reports migrating or unknown', async () => {
    const { queues, reconciler } = setup([vm('m', 'running'), vm('u', 'running')], { m: 'migrating', u: 'unknown' });
    const report = await reconciler.sweep(NOW);
    assert.deepEqual(queues.posted, []);
    assert.equal(report.reported, 0);
  });

  it('leaves requested and failed VMs alone, and transitional states with no operation', async () => {
    const vms = [
      vm('r', 'requested'),
      vm('f', 'failed'),
      vm('p', 'provisioning'),
      vm('g', 'migrating'),
      vm('d', 'deleting'),
    ];
    const { driver, queues, reconciler } = setup(vms, {});
    const report = await reconciler.sweep(NOW);
    assert.deepEqual(queues.posted, []);
    assert.equal(report.checked, 0);
    assert.deepEqual(
      driver.calls.filter((c) => c.verb === 'status'),
      [],
      'the driver is not even asked',
    );
  });

  it('never judges a VM whose operation moved recently: work in flight changes the state by itself', async () => {
    const { queues, reconciler } = setup(
      [vm('busy', 'running', { pendingOperationId: 'op-1', updatedAt: JUST_NOW })],
      {},
    );
    await reconciler.sweep(NOW);
    await reconciler.sweep(NOW + 1000);
    assert.deepEqual(queues.posted, []);
  });

  it('never reports a quiet operation that still has a job, on the VM host or on a migration target', async () => {
    const vms = [
      vm('queued', 'running', { pendingOperationId: 'op-1' }),
      vm('moving', 'migrating', { pendingOperationId: 'op-2', migrationTargetHostId: 'host-b' }),
    ];
    const { queues, reconciler } = setup(vms, {});
    queues.live.add(`${HOST}/op-1`);
    queues.live.add('host-b/op-2');
    for (let i = 0; i < 3; i++) await reconciler.sweep(NOW + i * 1000);
    assert.deepEqual(queues.posted, []);
  });

  it('reports an operation abandoned only when two sweeps in a row found no job for it', async () => {
    const { queues, reconciler } = setup([vm('stuck', 'running', { pendingOperationId: 'op-1' })], {
      stuck: 'running',
    });
    const first = await reconciler.sweep(NOW);
    assert.deepEqual(queues.posted, [], 'one sweep without a job is not enough: the job may be on its way back');
    assert.equal(first.reported, 0);
    const second = await reconciler.sweep(NOW + 1000);
    assert.deepEqual(queues.posted, [observation('stuck', 'running', 'the driver reports running')]);
    assert.equal(second.reported, 1);
  });

  it('forgets a suspect whose job came back in between', async () => {
    const { queues, reconciler } = setup([vm('stuck', 'running', { pendingOperationId: 'op-1' })], {
      stuck: 'running',
    });
    await reconciler.sweep(NOW);
    queues.live.add(`${HOST}/op-1`);
    await reconciler.sweep(NOW + 1000);
    queues.live.delete(`${HOST}/op-1`);
    await reconciler.sweep(NOW + 2000);
    assert.deepEqual(queues.posted, [], 'the job seen on the second sweep restarts the count');
  });

  it('lists domains it does not manage or does not expect here, and leaves them alone', async () => {
    const { driver, queues, reconciler } = setup([vm('ours', 'running')], { ours: 'running' });
    const domains: DomainInfo[] = [
      { vmId: 'ours', state: 'running', managed: true },
      { vmId: 'hand-made', state: 'running', managed: false },
      { vmId: 'left-over', state: 'stopped', managed: true },
    ];
    driver.domains = domains;
    const report = await reconciler.sweep(NOW);
    assert.deepEqual(report.unmanaged, ['hand-made', 'left-over']);
    assert.deepEqual(queues.posted, []);
    assert.deepEqual(
      driver.calls.map((c) => c.verb),
      ['status'],
      'nothing but a status call: an unmanaged domain is never touched',
    );
  });

  it("does not call another host's VMs foreign when two hosts of one driver share a machine", async () => {
    const { driver, reconciler, expectations, warnings } = setup([vm('mine', 'running')], { mine: 'running' });
    expectations.elsewhere.add('theirs');
    driver.domains = [
      { vmId: 'mine', state: 'running', managed: true },
      { vmId: 'theirs', state: 'running', managed: true },
      { vmId: 'stray', state: 'running', managed: true },
    ];
    const report = await reconciler.sweep(NOW);
    assert.deepEqual(report.unmanaged, ['stray'], "the other host's VM is not listed; a VM nobody has is");
    await reconciler.sweep(NOW + 1000);
    assert.deepEqual(
      warnings.map((w) => w.domains),
      [['stray']],
    );
  });

  it('logs an unmanaged domain once two sweeps in a row found it, and again if it comes back after going away', async () => {
    const { driver, reconciler, warnings } = setup([], {});
    const handMade: DomainInfo = { vmId: 'hand-made', state: 'running', managed: false };
    const logged = () => warnings.map((w) => w.domains);
    driver.domains = [handMade];
    const first = await reconciler.sweep(NOW);
    assert.deepEqual(first.unmanaged, ['hand-made'], 'reported by the first sweep');
    assert.deepEqual(logged(), [], 'not logged yet: it may be a VM defined since the read model was read');
    const second = await reconciler.sweep(NOW + 1000);
    assert.deepEqual(second.unmanaged, ['hand-made'], 'still reported by every sweep');
    assert.deepEqual(logged(), [['hand-made']]);
    driver.domains = [handMade, { vmId: 'another', state: 'stopped', managed: false }];
    await reconciler.sweep(NOW + 2000);
    await reconciler.sweep(NOW + 3000);
    driver.domains = [];
    await reconciler.sweep(NOW + 4000);
    driver.domains = [handMade];
    await reconciler.sweep(NOW + 5000);
    await reconciler.sweep(NOW + 6000);
    assert.deepEqual(logged(), [['hand-made'], ['another'], ['hand-made']]);
  });

  it('never logs a domain that the read model knows by the next sweep (a create racing the sweep)', async () => {
    const { driver, reconciler, warnings, expectations } = setup([], {});
    driver.domains = [{ vmId: 'just-made', state: 'stopped', managed: true }];
    assert.deepEqual((await reconciler.sweep(NOW)).unmanaged, ['just-made']);
    expectations.vms.push(vm('just-made', 'stopped'));
    assert.deepEqual((await reconciler.sweep(NOW + 1000)).unmanaged, []);
    assert.deepEqual(warnings, []);
  });

  it('one VM on a driver event: reported at once when it disagrees; nothing for a VM of another host', async () => {
    const { queues, reconciler } = setup([vm('web', 'running')], { web: 'crashed' });
    assert.equal(await reconciler.reconcileVm('web', NOW), true);
    assert.equal(await reconciler.reconcileVm('elsewhere', NOW), false);
    assert.deepEqual(queues.posted, [observation('web', 'crashed', 'the driver reports crashed')]);
  });

  it('asks the driver about the VM by its id and spec', async () => {
    const { driver, reconciler } = setup([vm('web', 'running')], { web: 'running' });
    await reconciler.sweep(NOW);
    assert.deepEqual(driver.calls, [
      { verb: 'status', args: [{ id: 'web', name: 'web', vcpus: 1, memoryMiB: 256, diskGiB: 1 }] },
    ]);
  });

  it("force-stops a stale copy of a VM recovered on another host after a fence; leaves the other host's VMs alone", async () => {
    const { driver, reconciler, expectations } = setup([], {});
    expectations.elsewhere.add('recovered');
    expectations.elsewhere.add('theirs');
    expectations.recoveredAway.add('recovered');
    driver.domains = [
      { vmId: 'recovered', state: 'running', managed: true },
      { vmId: 'theirs', state: 'running', managed: true },
    ];
    const report = await reconciler.sweep(NOW);
    assert.deepEqual(report.staleStopped, ['recovered']);
    assert.deepEqual(
      driver.calls.map((c) => [c.verb, (c.args[0] as { id: string }).id, c.args[1]]),
      [['stop', 'recovered', { force: true }]],
      'only the stale copy is stopped, by force; nothing is destroyed',
    );
  });
});
