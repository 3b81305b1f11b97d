import type { ApiClient } from './api-client.js';
import type { Operations } from './operations.js';
import { mulberry32 } from '../../src/drivers/simulated/prng.js';

export interface VmPlan {
  name: string;
  hostId: string;
}

/** Creates VMs (started) and waits for each create to end; returns the ids of those accepted. */
export async function createVms(ops: Operations, plans: VmPlan[], opTimeoutMs: number): Promise<string[]> {
  const ids: string[] = [];
  await Promise.all(
    plans.map(async (p) => {
      for (let attempt = 0; attempt < 20; attempt++) {
        const r = await ops.send('POST', '/v1/vms', {
          name: p.name,
          vcpus: 1,
          memoryMiB: 64,
          diskGiB: 1,
          hostId: p.hostId,
        });
        if (r.status === 202) {
          ids.push(r.body.vmId as string);
          await ops.waitOne(r.body.operationId as string, opTimeoutMs);
          return;
        }
        await new Promise((res) => setTimeout(res, 500));
      }
    }),
  );
  return ids;
}

/** The verbs a user may send to a VM in `state`, as [method, path suffix, body]. */
function verbsFor(state: string, n: number): Array<[method: 'POST' | 'DELETE', path: string, body?: object]> {
  switch (state) {
    case 'running':
      return [
        ['POST', '/stop', { force: true }],
        ['POST', '/pause'],
        ['POST', '/reboot'],
        ['POST', '/snapshots', { name: `s${n}` }],
      ];
    case 'paused':
      return [['POST', '/resume']];
    case 'stopped':
      return [
        ['POST', '/start'],
        ['POST', '/start'],
        ['POST', '/snapshots', { name: `s${n}` }],
      ];
    default:
      return [];
  }
}

export interface ChainOptions {
  commandsPerVm: number;
  opTimeoutMs: number;
  seed: number;
  /** Delete every n-th VM at the end of its chain (0: never). */
  deleteEvery?: number;
  /** Stop early (the scenario's fault window closed, say). */
  stop?: () => boolean;
}

/**
 * One user per VM: read the VM, send a verb legal in its state, wait for the
 * operation to end, repeat. A refusal (409 busy, 503 outage) is retried after a
 * pause and does not count as a command.
 */
export async function runChains(client: ApiClient, ops: Operations, vmIds: string[], o: ChainOptions): Promise<void> {
  await Promise.all(
    vmIds.map(async (vmId, i) => {
      const rnd = mulberry32(o.seed + i);
      let sent = 0;
      let refusals = 0;
      while (sent < o.commandsPerVm && refusals < 60 && !o.stop?.()) {
        const vm = await client.get(`/v1/vms/${vmId}`);
        if (vm.status !== 200) {
          refusals++;
          await new Promise((res) => setTimeout(res, 500));
          continue;
        }
        const choices = verbsFor(vm.body.state as string, sent);
        if (!choices.length) return;
        const [method, suffix, body] = choices[Math.floor(rnd() * choices.length)]!;
        const r = await ops.send(method, `/v1/vms/${vmId}${suffix}`, body);
        if (r.status !== 202) {
          refusals++;
          await new Promise((res) => setTimeout(res, 300 + rnd() * 500));
          continue;
        }
        sent++;
        await ops.waitOne(r.body.operationId as string, o.opTimeoutMs);
      }
      if (o.deleteEvery && i % o.deleteEvery === 0) {
        let answerLost = false;
        for (let attempt = 0; attempt < 30; attempt++) {
          // After a delete whose answer was lost (the API killed), "was deleted" is the answer to the retry.
          const r = await ops.send('DELETE', `/v1/vms/${vmId}`, undefined, answerLost ? [404] : []);
          if (r.status === 202) {
            await ops.waitOne(r.body.operationId as string, o.opTimeoutMs);
            return;
          }
          if (r.status === 404 && answerLost) return;
          if (r.status === 0) answerLost = true;
          await new Promise((res) => setTimeout(res, 500));
        }
      }
    }),
  );
}
