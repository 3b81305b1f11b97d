/**
 * One contract suite for every driver kind (issue #5). Each kind brings a ContractTarget in
 * test/drivers/<kind>/<kind>.contract-target.ts and runs the suite from its own
 * test/drivers/<kind>/<kind>.contract.test.ts, so each kind is one test file: the runner
 * schedules it by what it uses (the system libvirtd, a busy core) and gives it its own
 * deadline. A kind whose target says the machine cannot run it is listed as skipped with
 * the reason.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import type { ContractTarget } from './contract-target.js';
import { apiContract } from './driver-contract-api.js';
import { driverContract } from './driver-contract.js';
import { planContract, type ContractPlan } from './driver-contract-support.js';

type Loaded = { plan: ContractPlan } | { skip: string } | { error: unknown };

async function load(kind: string): Promise<Loaded> {
  const url = new URL(`./${kind}/${kind}.contract-target.js`, import.meta.url);
  // Absent means "not in this tree yet"; a file that exists but fails to import is a failure.
  if (!existsSync(fileURLToPath(url))) {
    return { skip: `no contract target in this tree (test/drivers/${kind}/${kind}.contract-target.ts)` };
  }
  try {
    const mod = (await import(url.href)) as { target?: ContractTarget };
    const target = mod.target;
    if (!target) throw new Error(`${url.pathname} does not export "target"`);
    if (target.kind !== kind) throw new Error(`${url.pathname} exports a target of kind ${target.kind}`);
    const reason = await target.skipReason();
    if (reason) return { skip: reason };
    return { plan: await planContract(target) };
  } catch (error) {
    return { error };
  }
}

/** Registers the whole contract (driver level, then through the API) for one driver kind. */
export async function runContract(kind: string): Promise<void> {
  const loaded = await load(kind);
  if ('skip' in loaded) {
    // A skipped test, not a skipped suite: node counts it, so the run's summary shows the skip too.
    test(`driver contract: ${kind}`, { skip: loaded.skip });
  } else if ('error' in loaded) {
    describe(`driver contract: ${kind}`, () => {
      test('the contract target loads', () => {
        throw loaded.error;
      });
    });
  } else {
    const { plan } = loaded;
    const on = plan.target.title ? ` on ${plan.target.title}` : '';
    describe(`driver contract: ${kind}${on}`, () => {
      after(() => plan.removeRoot());
      driverContract(plan);
      apiContract(plan);
      for (const [what, why] of Object.entries(plan.target.unproven ?? {})) test(what, { skip: why });
    });
  }
}
