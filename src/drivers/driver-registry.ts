import {
  DriverError,
  type DriverCapabilities,
  type HostBinding,
  type HypervisorDriver,
} from './hypervisor-driver.port.js';
import type { HostPolicy } from './kit/host-policy.js';
import { imageRefusal } from './kit/image-catalog.js';
import { parseQemuUri } from './qemu/qemu-uri.js';
import { parseLibvirtUri } from './libvirt/libvirt-uri.js';
import { SimulatedDriver } from './simulated/simulated.driver.js';
import { simulatedCapabilities } from './simulated/simulated-options.js';
import { createQemuDriver, qemuCapabilities } from './qemu/qemu.driver.js';
import { containerCapabilities, createContainerDriver } from './container/container.driver.js';
import { parseContainerUri } from './container/container-uri.js';
import { createLibvirtDriver } from './libvirt/libvirt.driver.js';
import { join, normalize } from 'node:path';
import { libvirtCapabilities } from './libvirt/libvirt-capabilities.js';
import { createVsphereDriver } from './vsphere/vsphere.driver.js';
import { vsphereCapabilities } from './vsphere/vsphere-uri.js';

export type { HostPolicy } from './kit/host-policy.js';

/**
 * Reads a host URI and says what the driver would declare, without touching the machine; with a
 * policy it also refuses what the policy forbids (directories outside HOST_DIR_ROOTS, unsafe transports).
 */
export type CapabilityProbe = (uri: string, policy?: HostPolicy) => DriverCapabilities;
export type PolicyDriverFactory = (host: HostBinding, policy?: HostPolicy) => HypervisorDriver;

/**
 * An unknown driver kind or a host URI its driver (or the host policy) refuses: the API answers
 * 400. A DriverError of code `invalid`, so a caller that only knows the port can tell it apart.
 */
export class DriverConfigError extends DriverError {
  override readonly name = 'DriverConfigError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('invalid', message, options);
  }
}

/** A host's image catalog from its URI alone: the directories `spec.image` must resolve in. */
export type ImageCatalogProbe = (uri: string, storageDir: string) => string[];

interface Entry {
  create: PolicyDriverFactory;
  capabilities: CapabilityProbe;
  /** Absent: the driver takes no image from the host's files (simulated). */
  imageDirs?: ImageCatalogProbe;
}

/** The drivers' shared default: `images=` if given, else `<storage>/.images`. */
function catalog(images: string[], storage: string | undefined, storageDir: string): string[] {
  return images.length > 0 ? images : [join(normalize(storage ?? storageDir), '.images')];
}

const registry = new Map<string, Entry>([
  ['simulated', { create: (h) => new SimulatedDriver(h), capabilities: (uri) => simulatedCapabilities(uri) }],
  [
    'qemu',
    {
      create: createQemuDriver,
      capabilities: qemuCapabilities,
      imageDirs: (uri, dir) => {
        const c = parseQemuUri(uri);
        return catalog(c.imagesDirs, c.storageDir, dir);
      },
    },
  ],
  [
    'container',
    {
      // The container driver parses its own URI without a policy; the registry holds it to the policy first.
      create: (h, policy) => (parseContainerUri(h.uri, policy), createContainerDriver(h)),
      capabilities: (uri, policy) => (parseContainerUri(uri, policy), containerCapabilities(uri)),
      imageDirs: (uri, dir) => {
        const c = parseContainerUri(uri);
        return catalog(c.imageDirs, c.storageDir, dir);
      },
    },
  ],
  [
    'libvirt',
    {
      create: createLibvirtDriver,
      capabilities: libvirtCapabilities,
      imageDirs: (uri, dir) => {
        const c = parseLibvirtUri(uri);
        return catalog(c.imagesDirs, c.storageDir, dir);
      },
    },
  ],
  // vCenter keeps the files: no host directory to confine, no image catalog (an image is refused).
  ['vsphere', { create: (h) => createVsphereDriver(h), capabilities: (uri) => vsphereCapabilities(uri) }],
]);

/**
 * Adds a driver kind. The capability probe is required because the API must
 * refuse an unsupported operation (422) before any event is written, and
 * constructing a driver there could touch the hypervisor.
 */
export function registerDriver(kind: string, create: PolicyDriverFactory, capabilities: CapabilityProbe): void {
  if (!/^[a-z][a-z0-9-]*$/.test(kind))
    throw new Error(`driver kind must be lowercase [a-z0-9-], got ${JSON.stringify(kind)}`);
  // Two modules claiming one kind is a wiring bug; failing at startup beats a silent winner.
  if (registry.has(kind)) throw new Error(`driver kind ${kind} is already registered`);
  registry.set(kind, { create, capabilities });
}

export function knownDriverKinds(): string[] {
  return [...registry.keys()].sort();
}

/**
 * The driver for one host. `policy` (from HOST_DIR_ROOTS and LIBVIRT_ALLOW_UNSAFE_URIS) is
 * what an administrator allows host URIs to name; without one only the unsafe libvirt
 * transports are refused. Throws DriverConfigError (a DriverError `invalid`).
 */
export function createDriver(host: HostBinding, policy?: HostPolicy): HypervisorDriver {
  const entry = lookup(host.driver);
  try {
    return entry.create(host, policy);
  } catch (err) {
    throw new DriverConfigError(`host ${host.id}: ${message(err)}`, { cause: err });
  }
}

/** The capabilities a `kind` driver would declare for `uri`; throws DriverConfigError on a bad kind, URI or policy refusal. */
export function driverCapabilities(kind: string, uri: string, policy?: HostPolicy): DriverCapabilities {
  const entry = lookup(kind);
  try {
    return entry.capabilities(uri, policy);
  } catch (err) {
    throw new DriverConfigError(message(err), { cause: err });
  }
}

/**
 * Why `image` can never be defined on `host`, or undefined when it may: a pure check from the
 * host's URI (no file is read), so the API can refuse a create with 400 before any event. The
 * driver still decides on the host, with symlinks resolved; this only catches what the URI
 * alone shows (a path outside every images dir, `..`, an invalid name).
 */
export function imageRefusalFor(host: HostBinding, image: string | undefined): string | undefined {
  const entry = lookup(host.driver);
  if (image === undefined || !entry.imageDirs) return undefined;
  if (host.driver === 'container' && (image === 'busybox' || image === '')) return undefined;
  return imageRefusal(image, entry.imageDirs(host.uri, host.storageDir));
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

/** The images dirs of `host` (its URI's `images=`, else `<storage>/.images`); empty for a driver without a catalog. */
export function imageDirsFor(host: HostBinding): string[] {
  const entry = lookup(host.driver);
  return entry.imageDirs ? entry.imageDirs(host.uri, host.storageDir) : [];
}
