import type { DriverCapabilities, DriverFactory, HostBinding, HypervisorDriver } from './hypervisor-driver.port.js';
import { SimulatedDriver } from './simulated/simulated.driver.js';
import { simulatedCapabilities } from './simulated/simulated-options.js';
import { createQemuDriver, qemuCapabilities } from './qemu/qemu.driver.js';
import { containerCapabilities, createContainerDriver } from './container/container.driver.js';
import { createLibvirtDriver } from './libvirt/libvirt.driver.js';
import { libvirtCapabilities } from './libvirt/libvirt-capabilities.js';
import { createVsphereDriver } from './vsphere/vsphere.driver.js';
import { vsphereCapabilities } from './vsphere/vsphere-uri.js';

/** Reads a host URI and says what the driver would declare, without touching the machine. */
export type CapabilityProbe = (uri: string) => DriverCapabilities;

/** An unknown driver kind or a host URI its driver refuses: the API answers 400. */
export class DriverConfigError extends Error {
  override readonly name = 'DriverConfigError';
}

interface Entry {
  create: DriverFactory;
  capabilities: CapabilityProbe;
}

const registry = new Map<string, Entry>([
  ['simulated', { create: (h) => new SimulatedDriver(h), capabilities: simulatedCapabilities }],
  ['qemu', { create: createQemuDriver, capabilities: qemuCapabilities }],
  ['container', { create: createContainerDriver, capabilities: containerCapabilities }],
  ['libvirt', { create: createLibvirtDriver, capabilities: libvirtCapabilities }],
  ['vsphere', { create: createVsphereDriver, capabilities: vsphereCapabilities }],
]);

/**
 * Adds a driver kind. The capability probe is required because the API must
 * refuse an unsupported operation (422) before any event is written, and
 * constructing a driver there could touch the hypervisor.
 */
export function registerDriver(kind: string, create: DriverFactory, capabilities: CapabilityProbe): void {
  if (!/^[a-z][a-z0-9-]*$/.test(kind))
    throw new Error(`driver kind must be lowercase [a-z0-9-], got ${JSON.stringify(kind)}`);
  // Two modules claiming one kind is a wiring bug; failing at startup beats a silent winner.
  if (registry.has(kind)) throw new Error(`driver kind ${kind} is already registered`);
  registry.set(kind, { create, capabilities });
}

export function knownDriverKinds(): string[] {
  return [...registry.keys()].sort();
}

export function createDriver(host: HostBinding): HypervisorDriver {
  const entry = lookup(host.driver);
  try {
    return entry.create(host);
  } catch (err) {
    throw new DriverConfigError(`host ${host.id}: ${message(err)}`, { cause: err });
  }
}

/** The capabilities a `kind` driver would declare for `uri`; throws DriverConfigError on a bad kind or URI. */
export function driverCapabilities(kind: string, uri: string): DriverCapabilities {
  const entry = lookup(kind);
  try {
    return entry.capabilities(uri);
  } catch (err) {
    throw new DriverConfigError(message(err), { cause: err });
  }
}

function lookup(kind: string): Entry {
  const entry = registry.get(kind);
  if (!entry) {
    throw new DriverConfigError(`unknown driver ${JSON.stringify(kind)} (known: ${knownDriverKinds().join(', ')})`);
  }
  return entry;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
