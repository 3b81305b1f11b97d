/**
 * Fault 5: a hypervisor call that never returns. Simulated: `hangVerbs=pause`
 * on the host URI. QEMU: the VM's qemu process is SIGSTOPped, so QMP never
 * answers. The job deadline (JOB_TIMEOUT_MS) bounds the call, the operation
 * fails naming the reason, the VM is not left busy (the next command is
 * accepted, not 409) and that next command works.
 */
import { Cluster } from '../support/cluster.js';
import { qemuPidsUnder } from '../support/driver-check.js';
import { Operations } from '../support/operations.js';
import { verdict, type ScenarioRow } from '../support/verdict.js';
import { createVms } from '../support/workload.js';
import { hasQemu } from './kill-worker.js';

const JOB_TIMEOUT_MS = 4000;

/** Sends a command that must hang, then the one that must work; returns the problems seen. */
async function hangThenRecover(
  ops: Operations,
  vmId: string,
  hang: [path: string, body?: object],
  next: [path: string, body?: object],
  expectState: string,
  timeoutMs: number,
  beforeNext?: () => void,
): Promise<string[]> {
  const problems: string[] = [];
  const t0 = Date.now();
  const r = await ops.send('POST', `/v1/vms/${vmId}${hang[0]}`, hang[1]);
  if (r.status !== 202) return [`hanging command answered ${r.status}`];
  const op = await ops.waitOne(r.body.operationId as string, timeoutMs * 10);
  const took = Date.now() - t0;
  if (op?.status !== 'failed') problems.push(`the hung call did not fail: ${JSON.stringify(op)}`);
  else if (!/did not finish within|no reply from QEMU|QMP socket/.test(String(op.error)))
    problems.push(`failure without the reason: ${String(op.error)}`);
  if (took > timeoutMs * 4) problems.push(`the hung call took ${took} ms for a ${timeoutMs} ms deadline`);
  beforeNext?.();
  const n = await ops.send('POST', `/v1/vms/${vmId}${next[0]}`, next[1]);
  if (n.status !== 202)
    return [...problems, `the next command was refused (VM still busy?): ${n.status} ${JSON.stringify(n.body)}`];
  const nop = await ops.waitOne(n.body.operationId as string, 60000);
  if (nop?.status !== 'succeeded') problems.push(`the next command failed: ${JSON.stringify(nop)}`);
  const vm = await ops.client.get(`/v1/vms/${vmId}`);
  if (vm.body.state !== expectState) problems.push(`VM ${vmId} is ${String(vm.body.state)}, expected ${expectState}`);
  return problems;
}

export async function runSimulated(rounds: number): Promise<ScenarioRow> {
  const c = await Cluster.start({ name: 'hang', env: { JOB_TIMEOUT_MS: String(JOB_TIMEOUT_MS) } });
  let keep = false;
  try {
    const uri = 'simulated://?latencyMs=20&hangVerbs=pause,snapshot';
    const { hostId, hosts } = await c.startWithHost('sim-hang', 'simulated', uri);
    const ops = new Operations(c.client);
    const vmIds = await createVms(
      ops,
      Array.from({ length: rounds }, (_, i) => ({ name: `hg-${i}`, hostId })),
      60000,
    );
    const problems: string[] = [];
    await Promise.all(
      vmIds.map(async (id, i) => {
        const hang: [string, object?] = i % 2 ? ['/snapshots', { name: 'never' }] : ['/pause'];
        problems.push(...(await hangThenRecover(ops, id, hang, ['/stop', { force: true }], 'stopped', JOB_TIMEOUT_MS)));
      }),
    );
    const row = await verdict({
      fault: 'hung driver call (simulated)',
      injected: vmIds.length,
      cluster: c,
      ops,
      hosts,
      problems,
    });
    keep = row.problems.length > 0;
    return row;
  } finally {
    await c.close(keep);
  }
}

/**
 * A real QEMU whose QMP does not answer: the process is SIGSTOPped during a
 * pause. `resume: true` continues it before the force stop that follows;
 * otherwise the force stop must kill a QEMU that still does not answer.
 */
export async function runQemu(opts: { resume: boolean }): Promise<ScenarioRow> {
  // Without SIGCONT the pause ends by the driver's own QMP timeout (10 s), inside a longer job deadline.
  const timeoutMs = opts.resume ? JOB_TIMEOUT_MS : 30000;
  const c = await Cluster.start({ name: 'hang-qemu', env: { JOB_TIMEOUT_MS: String(timeoutMs) } });
  let keep = false;
  const stopped: number[] = [];
  try {
    const uri = 'qemu:///system?accel=tcg&stopTimeoutMs=2000';
    const { hostId, hosts } = await c.startWithHost('qemu-hang', 'qemu', uri);
    const dir = hosts[0]!.storageDir;
    const ops = new Operations(c.client);
    const [vmId] = await createVms(ops, [{ name: 'hq-0', hostId }], 120000);
    const problems: string[] = [];
    if (!vmId) problems.push('the VM was not created');
    else {
      const procs = qemuPidsUnder(dir).filter((p) => p.cmdline.includes(vmId));
      if (procs.length !== 1) problems.push(`expected one qemu for ${vmId}, found ${procs.length}`);
      for (const p of procs) {
        process.kill(p.pid, 'SIGSTOP');
        stopped.push(p.pid);
      }
      problems.push(
        ...(await hangThenRecover(ops, vmId, ['/pause'], ['/stop', { force: true }], 'stopped', timeoutMs, () => {
          // QEMU comes back; the force stop that follows must not wait behind the abandoned pause.
          if (opts.resume) for (const pid of stopped.splice(0)) process.kill(pid, 'SIGCONT');
        })),
      );
    }
    const row = await verdict({
      fault: `hung driver call (qemu SIGSTOP${opts.resume ? ', then SIGCONT' : ', left stopped'})`,
      injected: 1,
      cluster: c,
      ops,
      hosts,
      problems,
      qemuDirs: [dir],
    });
    keep = row.problems.length > 0;
    return row;
  } finally {
    for (const pid of stopped) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // killed by the force stop
      }
    }
    await c.close(keep);
  }
}

export async function run(opts: { quick?: boolean }): Promise<ScenarioRow[]> {
  const rows = [await runSimulated(opts.quick ? 2 : 6)];
  if (hasQemu) rows.push(await runQemu({ resume: true }), await runQemu({ resume: false }));
  return rows;
}
