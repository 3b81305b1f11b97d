/**
 * A long random history through the HTTP API: VMs driven concurrently with
 * random verbs (mostly legal for the VM's state, some not), on simulated hosts
 * that inject failures, every accepted operation awaited to its end. Seeded,
 * so a failing run can be replayed with the printed seed.
 */
import { mulberry32 } from '../../src/drivers/simulated/prng.js';
import { waitOperation, type TestApp } from './app.js';

export interface HistoryOptions {
  seed: number;
  commands: number;
  vms: number;
  /** Host ids to place on and migrate between (at least two). */
  hostIds: string[];
}

export interface HistoryReport {
  seed: number;
  commands: number;
  accepted: number;
  refused: number;
  succeeded: number;
  failed: number;
  byVerb: Record<string, number>;
  durationMs: number;
}

type Vm = { id: string; state: string; hostId: string | null; snapshots: Array<{ name: string }> };
type Command = { verb: string; method: 'post' | 'delete'; path: string; body?: object };

/** Host URIs that fail some driver calls, reproducibly for a seed. */
export function flakyHostUris(seed: number): string[] {
  return [
    `simulated://?latencyMs=0&failureRate=0.08&seed=${seed}`,
    `simulated://?latencyMs=0&failureRate=0.15&seed=${seed + 1}&failVerbs=start,stop,reboot,snapshot,revert,migrate,prepareIncoming,pause,resume`,
  ];
}

function pick<T>(rnd: () => number, xs: readonly T[]): T {
  return xs[Math.floor(rnd() * xs.length)]!;
}

function commandFor(rnd: () => number, vm: Vm, hostIds: string[], n: number): Command {
  const base = `/v1/vms/${vm.id}`;
  const other = hostIds.filter((h) => h !== vm.hostId);
  const snap = vm.snapshots.length ? pick(rnd, vm.snapshots).name : 'none';
  const all: Record<string, Command> = {
    start: { verb: 'start', method: 'post', path: `${base}/start` },
    stop: { verb: 'stop', method: 'post', path: `${base}/stop`, body: { force: rnd() < 0.3 } },
    reboot: { verb: 'reboot', method: 'post', path: `${base}/reboot` },
    pause: { verb: 'pause', method: 'post', path: `${base}/pause` },
    resume: { verb: 'resume', method: 'post', path: `${base}/resume` },
    snapshot: {
      verb: 'snapshot',
      method: 'post',
      path: `${base}/snapshots`,
      body: { name: `s${n}`, memory: vm.state === 'running' && rnd() < 0.5 },
    },
    revert: { verb: 'revert', method: 'post', path: `${base}/snapshots/${snap}/revert` },
    deleteSnapshot: { verb: 'deleteSnapshot', method: 'delete', path: `${base}/snapshots/${snap}` },
    migrate: {
      verb: 'migrate',
      method: 'post',
      path: `${base}/migrations`,
      body: { targetHostId: other.length ? pick(rnd, other) : hostIds[0], live: vm.state === 'running' },
    },
    delete: { verb: 'delete', method: 'delete', path: base },
  };
  const legal: Record<string, string[]> = {
    running: [
      'stop',
      'stop',
      'reboot',
      'pause',
      'snapshot',
      'snapshot',
      'migrate',
      'migrate',
      'revert',
      'deleteSnapshot',
      'delete',
    ],
    stopped: ['start', 'start', 'start', 'snapshot', 'revert', 'deleteSnapshot', 'migrate', 'delete'],
    paused: ['resume', 'resume', 'stop', 'snapshot', 'delete'],
    failed: ['delete', 'start'],
  };
  // One in ten is any verb at all: refusals (409/422) must append nothing and leave no trace in the read models.
  const verbs = rnd() < 0.1 ? Object.keys(all) : (legal[vm.state] ?? Object.keys(all));
  return all[pick(rnd, verbs)]!;
}

async function getVm(t: TestApp, id: string): Promise<Vm> {
  const res = await t.as('viewer').get(`/v1/vms/${id}`);
  if (res.status !== 200) throw new Error(`GET vm ${id}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as Vm;
}

async function createOne(t: TestApp, hostId: string, name: string, report: HistoryReport): Promise<string | undefined> {
  report.commands++;
  const res = await t.as('operator').post('/v1/vms', { name, vcpus: 1, memoryMiB: 64, diskGiB: 1, hostId });
  report.byVerb.create = (report.byVerb.create ?? 0) + 1;
  if (res.status !== 202) throw new Error(`create: ${res.status} ${JSON.stringify(res.body)}`);
  report.accepted++;
  const op = await waitOperation(t, res.body.operationId as string, 60_000);
  if (op.status === 'succeeded') report.succeeded++;
  else report.failed++;
  return res.body.vmId as string;
}

/** Runs `commands` commands over `vms` concurrent VM slots; a deleted VM is replaced by a new one. */
export async function runRandomHistory(t: TestApp, opts: HistoryOptions): Promise<HistoryReport> {
  const t0 = Date.now();
  const report: HistoryReport = {
    seed: opts.seed,
    commands: 0,
    accepted: 0,
    refused: 0,
    succeeded: 0,
    failed: 0,
    byVerb: {},
    durationMs: 0,
  };
  let issued = 0;
  const slot = async (i: number): Promise<void> => {
    // One PRNG per slot: the order of a slot's choices does not depend on the others' timing.
    const rnd = mulberry32(opts.seed * 1000 + i);
    let vmId = await createOne(t, opts.hostIds[i % opts.hostIds.length]!, `h${i}-0`, report);
    issued++;
    let generation = 0;
    while (issued < opts.commands) {
      issued++;
      const vm = await getVm(t, vmId!);
      if (vm.state === 'deleted') {
        vmId = await createOne(t, pick(rnd, opts.hostIds), `h${i}-${++generation}`, report);
        continue;
      }
      const cmd = commandFor(rnd, vm, opts.hostIds, issued);
      report.commands++;
      report.byVerb[cmd.verb] = (report.byVerb[cmd.verb] ?? 0) + 1;
      const res =
        cmd.method === 'post'
          ? await t.as('operator').post(cmd.path, cmd.body)
          : await t.as('operator').delete(cmd.path);
      if (res.status === 202) {
        report.accepted++;
        const op = await waitOperation(t, res.body.operationId as string, 60_000);
        if (op.status === 'succeeded') report.succeeded++;
        else report.failed++;
      } else if ([404, 409, 422].includes(res.status)) {
        report.refused++;
      } else {
        throw new Error(`${cmd.method} ${cmd.path} (seed ${opts.seed}): ${res.status} ${JSON.stringify(res.body)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: opts.vms }, (_, i) => slot(i)));
  report.durationMs = Date.now() - t0;
  return report;
}
