import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { chmodSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  DriverError,
  type DomainInfo,
  type DomainState,
  type DomainStatus,
  type DriverCapabilities,
  type DriverErrorCode,
  type HostBinding,
  type HypervisorDriver,
  type VmSpec,
} from '../../src/drivers/hypervisor-driver.port.js';
import { createDriver, driverCapabilities } from '../../src/drivers/driver-registry.js';
import { tempDir } from '../support/env.js';
import type { ContractTarget } from './contract-target.js';

/** The capabilities that gate an operation (hardwareAcceleration is informational only). */
export const OPERATIONAL_CAPABILITIES = [
  'pause',
  'reboot',
  'memorySnapshots',
  'diskSnapshots',
  'liveMigration',
  'coldMigration',
] as const satisfies ReadonlyArray<keyof DriverCapabilities>;

export type OperationalCapability = (typeof OPERATIONAL_CAPABILITIES)[number];

/** Generous: libvirt takes seconds per call, and the CI machine is shared. */
export const TEST_TIMEOUT_MS = 180_000;
/** How long a state the driver reaches asynchronously (a killed process) may take to show. */
export const SETTLE_MS = 20_000;

/** One host of the suite: its binding, what the registry's probe says it declares, and a driver for it. */
export interface ContractHost {
  binding: HostBinding;
  capabilities: DriverCapabilities;
}

/**
 * Everything the suite knows before it defines its tests: the host bindings and their
 * declared capabilities decide which tests exist (exercise a declared capability, or prove
 * an undeclared one is refused), so they are resolved up front.
 */
export interface ContractPlan {
  target: ContractTarget;
  root: string;
  removeRoot: () => void;
  main: ContractHost;
  second?: ContractHost;
  restricted?: ContractHost;
}

export async function planContract(target: ContractTarget): Promise<ContractPlan> {
  const { dir, cleanup } = tempDir(`vl-contract-${target.kind}-`);
  // Storage dirs go under it; a hypervisor running as another user (libvirt's QEMU) must traverse it.
  chmodSync(dir, 0o711);
  const tag = randomUUID().slice(0, 6);
  const resolve = (b: HostBinding): ContractHost => ({
    binding: b,
    capabilities: driverCapabilities(b.driver, b.uri),
  });
  try {
    const main = resolve(await target.host(`ct-${tag}-a`, `${dir}/host-a`));
    const secondBinding = await target.secondHost?.(`ct-${tag}-b`, `${dir}/host-b`);
    const restrictedBinding = await target.restrictedHost?.(`ct-${tag}-r`, `${dir}/host-r`);
    return {
      target,
      root: dir,
      removeRoot: cleanup,
      main,
      ...(secondBinding ? { second: resolve(secondBinding) } : {}),
      ...(restrictedBinding ? { restricted: resolve(restrictedBinding) } : {}),
    };
  } catch (err) {
    cleanup();
    throw err;
  }
}

/** Short and unique: some drivers put the VM id into hostnames, socket paths or domain names. */
export function newVmId(label: string): string {
  return `ct-${label}-${randomUUID().slice(0, 6)}`;
}

/** A fresh spec from the target for a test labelled `label`, remembered for cleanup on the driver `on`. */
export type SpecFn = (label: string, on?: () => HypervisorDriver) => VmSpec;

/** Drivers built by one suite, closed (never killing VMs) at the end. */
export class DriverSet {
  private readonly drivers: HypervisorDriver[] = [];

  open(binding: HostBinding): HypervisorDriver {
    const d = createDriver(binding);
    this.drivers.push(d);
    return d;
  }

  async closeAll(): Promise<void> {
    for (const d of this.drivers.splice(0)) await d.close().catch(() => undefined);
  }
}

export async function rejectsWithCode(p: Promise<unknown>, code: DriverErrorCode, what: string): Promise<void> {
  await assert.rejects(
    p,
    (err: unknown) => {
      assert.ok(err instanceof DriverError, `${what}: expected a DriverError '${code}', got ${String(err)}`);
      assert.equal(err.code, code, `${what}: ${err.message}`);
      return true;
    },
    `${what}: expected a DriverError '${code}', but the call succeeded`,
  );
}

/** Any DriverError: the call must fail, and say so in the port's vocabulary. */
export async function rejectsWithDriverError(p: Promise<unknown>, what: string): Promise<DriverError> {
  let caught: DriverError | undefined;
  await assert.rejects(
    p,
    (err: unknown) => {
      assert.ok(err instanceof DriverError, `${what}: expected a DriverError, got ${String(err)}`);
      caught = err;
      return true;
    },
    `${what}: expected a DriverError, but the call succeeded`,
  );
  return caught!;
}

export async function assertState(driver: HypervisorDriver, spec: VmSpec, state: DomainState): Promise<DomainStatus> {
  const st = await driver.status(spec);
  assert.equal(st.state, state, `status of ${spec.id}: ${JSON.stringify(st)}`);
  return st;
}

/** Polls status until it is one of `states`; a process killed from outside takes a moment to show. */
export async function waitForState(
  driver: HypervisorDriver,
  spec: VmSpec,
  states: DomainState[],
  timeoutMs = SETTLE_MS,
): Promise<DomainStatus> {
  const deadline = Date.now() + timeoutMs;
  let last: DomainStatus | undefined;
  for (;;) {
    last = await driver.status(spec);
    if (states.includes(last.state)) return last;
    if (Date.now() > deadline) {
      assert.fail(`${spec.id} stayed ${JSON.stringify(last)}, expected one of ${states.join(', ')}`);
    }
    await sleep(100);
  }
}

/** The entry listDomains gives for one of our VMs (managed), or undefined. */
export async function listedAs(driver: HypervisorDriver, vmId: string): Promise<DomainInfo | undefined> {
  return (await driver.listDomains()).find((d) => d.vmId === vmId && d.managed);
}

export async function assertListed(driver: HypervisorDriver, vmId: string, state: DomainState): Promise<void> {
  const entry = await listedAs(driver, vmId);
  assert.ok(entry, `listDomains does not list ${vmId} as managed`);
  assert.equal(entry.state, state, `listDomains state of ${vmId}: ${JSON.stringify(entry)}`);
}

export async function assertNotListed(driver: HypervisorDriver, vmId: string): Promise<void> {
  const entry = await listedAs(driver, vmId);
  assert.equal(entry, undefined, `listDomains still lists ${vmId}: ${JSON.stringify(entry)}`);
}

export function declared(caps: DriverCapabilities): OperationalCapability[] {
  return OPERATIONAL_CAPABILITIES.filter((c) => caps[c]);
}

export function undeclared(caps: DriverCapabilities): OperationalCapability[] {
  return OPERATIONAL_CAPABILITIES.filter((c) => !caps[c]);
}
