import type { ApiClient } from './api-client.js';
import type { Operations } from './operations.js';
import { runChains } from './workload.js';

export interface OutagePlan {
  /** Where the probe creates its VMs. */
  hostId: string;
  /** Makes the dependency unavailable. */
  cut(): Promise<void>;
  /** Brings it back. */
  restore(): Promise<void>;
  outageMs: number;
  /** Every 503 during the outage must say what is down. */
  expectMessage: RegExp;
  seed: number;
}

export interface OutageFigures {
  /** VMs the probe created during the outage (accepted, so they must end too). */
  probes: string[];
  problems: string[];
  refusedDuringOutage: number;
  acceptedDuringOutage: number;
}

/**
 * Users keep sending commands to their VMs before, during and after an
 * outage; a command during the outage is either refused with a 503 naming
 * what is down, or accepted (and the verdict later checks it ended).
 */
export async function commandsThroughOutage(
  client: ApiClient,
  ops: Operations,
  vmIds: string[],
  plan: OutagePlan,
): Promise<OutageFigures> {
  let done = false;
  const probes: string[] = [];
  const chains = runChains(client, ops, vmIds, {
    commandsPerVm: 1000,
    opTimeoutMs: 120000,
    seed: plan.seed,
    stop: () => done,
  });
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  await sleep(1500);
  const before503 = ops.unavailable.length;
  const before202 = ops.started;
  await plan.cut();
  // The users above mostly wait for operations the outage holds up; a new user keeps creating VMs meanwhile.
  const until = Date.now() + plan.outageMs;
  for (let i = 0; Date.now() < until; i++) {
    const r = await ops.send('POST', '/v1/vms', {
      name: `probe-${plan.seed}-${i}`,
      vcpus: 1,
      memoryMiB: 64,
      diskGiB: 1,
      hostId: plan.hostId,
      start: false,
    });
    if (r.status === 202) probes.push(r.body.vmId as string);
    await sleep(Math.max(0, Math.min(500, until - Date.now())));
  }
  const refused = ops.unavailable.length - before503;
  const accepted = ops.started - before202;
  await plan.restore();
  await sleep(4000);
  done = true;
  await chains;
  const problems = ops.unavailable
    .filter((m) => !plan.expectMessage.test(m))
    .map((m) => `a 503 without a clear message: ${m}`);
  return { probes, problems, refusedDuringOutage: refused, acceptedDuringOutage: accepted };
}
