import type { DriverCapabilities } from '../hypervisor-driver.port.js';

/** Every verb of the port; the names accepted in `failVerbs` and `hangVerbs`. */
export const SIMULATED_VERBS = [
  'define',
  'start',
  'stop',
  'reboot',
  'pause',
  'resume',
  'destroy',
  'snapshot',
  'revert',
  'deleteSnapshot',
  'listSnapshots',
  'prepareIncoming',
  'migrate',
  'finishIncoming',
  'abortIncoming',
  'status',
  'listDomains',
  'createVolume',
  'resizeVolume',
  'resizeLive',
] as const;

export type SimulatedVerb = (typeof SIMULATED_VERBS)[number];

export interface SimulatedOptions {
  latencyMs: number;
  failureRate: number;
  /** Undefined: the failure rate applies to every verb that changes or reads a VM (not status/listDomains). */
  failVerbs: ReadonlySet<SimulatedVerb> | undefined;
  hangVerbs: ReadonlySet<SimulatedVerb>;
  /** Undefined: failures are not reproducible (seeded from the clock). */
  seed: number | undefined;
  capabilities: DriverCapabilities;
}

/** What a simulated host declares unless its URI turns something off. */
const DEFAULT_CAPABILITIES: DriverCapabilities = {
  liveMigration: true,
  coldMigration: true,
  memorySnapshots: true,
  diskSnapshots: true,
  pause: true,
  reboot: true,
  // Nothing is accelerated in a simulation; a URI may claim it for placement tests.
  hardwareAcceleration: false,
  // Everything live, both ways; `hotResize=false` declares none (a host of a driver that cannot).
  hotResize: { vcpus: 'any', memory: 'any', diskGrow: true },
};

type BooleanCapability = Exclude<keyof DriverCapabilities, 'hotResize'>;
const CAPABILITY_PARAMS = Object.keys(DEFAULT_CAPABILITIES).filter((k) => k !== 'hotResize') as BooleanCapability[];
const MAX_LATENCY_MS = 600_000;

/**
 * Parse `simulated://[label][?latencyMs=…&failureRate=…&failVerbs=…&hangVerbs=…&seed=…&storage=…&pause=false…]`.
 * Unknown parameters are refused too: a typo such as `failurerate=1` silently
 * ignored would make a chaos test pass for the wrong reason.
 */
export function parseSimulatedUri(uri: string): SimulatedOptions {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new Error(`simulated driver: invalid URI ${JSON.stringify(uri)}`);
  }
  if (url.protocol !== 'simulated:') {
    throw new Error(`simulated driver: URI scheme must be simulated://, got ${JSON.stringify(url.protocol)}`);
  }
  if (url.pathname !== '' && url.pathname !== '/') {
    throw new Error(`simulated driver: URI must not have a path, got ${JSON.stringify(url.pathname)}`);
  }
  const seen = new Set<string>();
  for (const key of url.searchParams.keys()) {
    if (seen.has(key)) throw new Error(`simulated driver: parameter ${key} given twice`);
    seen.add(key);
  }
  // `storage` is a label only (a simulated VM has no disk): hosts naming the same one share storage
  // for the control plane, so a fence's recovery may move VMs between them.
  const known = new Set<string>([
    'latencyMs',
    'failureRate',
    'failVerbs',
    'hangVerbs',
    'seed',
    'storage',
    'hotResize',
    ...CAPABILITY_PARAMS,
  ]);
  for (const key of seen) {
    if (!known.has(key)) throw new Error(`simulated driver: unknown parameter ${key}`);
  }

  const p = url.searchParams;
  const latencyMs = p.has('latencyMs') ? parseIntParam('latencyMs', p.get('latencyMs')!, 0, MAX_LATENCY_MS) : 0;
  const failVerbs = p.has('failVerbs') ? parseVerbList('failVerbs', p.get('failVerbs')!) : undefined;
  // `failVerbs=start` alone means "start always fails": that is what its author wants.
  const failureRate = p.has('failureRate') ? parseRate('failureRate', p.get('failureRate')!) : failVerbs ? 1 : 0;
  const hangVerbs = p.has('hangVerbs') ? parseVerbList('hangVerbs', p.get('hangVerbs')!) : new Set<SimulatedVerb>();
  const seed = p.has('seed') ? parseIntParam('seed', p.get('seed')!, 0, 0xffffffff) : undefined;
  const capabilities = { ...DEFAULT_CAPABILITIES };
  for (const cap of CAPABILITY_PARAMS) {
    const raw = p.get(cap);
    if (raw !== null) capabilities[cap] = parseBool(cap, raw);
  }
  if (p.has('hotResize') && !parseBool('hotResize', p.get('hotResize')!)) delete capabilities.hotResize;
  return { latencyMs, failureRate, failVerbs, hangVerbs, seed, capabilities };
}

/** Capabilities only: what the API checks before writing any event. */
export function simulatedCapabilities(uri: string): DriverCapabilities {
  return parseSimulatedUri(uri).capabilities;
}

function parseIntParam(name: string, raw: string, min: number, max: number): number {
  if (!/^\d+$/.test(raw)) throw new Error(`simulated driver: ${name} must be an integer, got ${JSON.stringify(raw)}`);
  const n = Number(raw);
  if (n < min || n > max) throw new Error(`simulated driver: ${name} must be between ${min} and ${max}, got ${raw}`);
  return n;
}

function parseRate(name: string, raw: string): number {
  const n = /^(\d+(\.\d*)?|\.\d+)$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 0 && n <= 1))
    throw new Error(`simulated driver: ${name} must be a number in 0..1, got ${JSON.stringify(raw)}`);
  return n;
}

function parseBool(name: string, raw: string): boolean {
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new Error(`simulated driver: ${name} must be true or false, got ${JSON.stringify(raw)}`);
}

function parseVerbList(name: string, raw: string): Set<SimulatedVerb> {
  const verbs = new Set<SimulatedVerb>();
  for (const item of raw.split(',').map((s) => s.trim())) {
    if (!(SIMULATED_VERBS as readonly string[]).includes(item)) {
      throw new Error(
        `simulated driver: ${name} has unknown verb ${JSON.stringify(item)} (known: ${SIMULATED_VERBS.join(', ')})`,
      );
    }
    verbs.add(item as SimulatedVerb);
  }
  return verbs;
}
