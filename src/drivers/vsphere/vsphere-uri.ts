import { readFileSync } from 'node:fs';
import type { DriverCapabilities } from '../hypervisor-driver.port.js';

/** A capability the URI can switch off (`disable=pause,liveMigration`), as the libvirt URI does. */
const SWITCHABLE = ['pause', 'reboot', 'memorySnapshots', 'diskSnapshots', 'liveMigration', 'coldMigration'] as const;
type Switchable = (typeof SWITCHABLE)[number];

/**
 * `vsphere://user@vcenter[:port]/?datacenter=&cluster=&host=&datastore=&insecure=&transport=http`
 * The password never travels in the URI (host URIs are stored in events, forever): it comes
 * from `passwordFile=` (a path to a secret file), else VSPHERE_PASSWORD_FILE, else VSPHERE_PASSWORD.
 */
export interface VsphereHostConfig {
  /** https://vcenter[:port]/sdk (http with transport=http: the simulator). */
  sdkUrl: string;
  user: string;
  datacenter: string;
  cluster?: string;
  /** The ESXi host (inventory name) this binding runs VMs on; required: migration moves between hosts. */
  host: string;
  datastore?: string;
  /** Accept a self-signed certificate (https only). */
  insecure: boolean;
  passwordFile?: string;
  /** Deadline of one SOAP call when the caller gives none. */
  callTimeoutMs: number;
  /** How long a graceful stop waits for the guest before powering off (default when the job gives none). */
  stopTimeoutMs: number;
  disabled: Switchable[];
}

const NAME = /^[^/\\\0]{1,80}$/;

export function parseVsphereUri(uri: string): VsphereHostConfig {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new Error(`invalid vsphere URI ${JSON.stringify(uri)}`);
  }
  if (url.protocol !== 'vsphere:') throw new Error(`a vsphere host URI starts with vsphere://, got ${url.protocol}`);
  if (url.password) {
    // Refused outright, never stripped: the URI is already on its way into the event log.
    throw new Error(
      'a vsphere URI must not carry a password: use passwordFile=, VSPHERE_PASSWORD_FILE or VSPHERE_PASSWORD',
    );
  }
  if (!url.username) throw new Error('a vsphere URI names the user: vsphere://user@vcenter/');
  if (!url.hostname) throw new Error('a vsphere URI names the vCenter or ESXi host');
  const q = url.searchParams;
  const known = new Set([
    'datacenter',
    'cluster',
    'host',
    'datastore',
    'insecure',
    'transport',
    'passwordFile',
    'callTimeoutMs',
    'stopTimeoutMs',
    'disable',
  ]);
  for (const k of q.keys()) if (!known.has(k)) throw new Error(`unknown vsphere URI parameter ${k}`);
  const name = (k: string, required: boolean): string | undefined => {
    const v = q.get(k) ?? undefined;
    if (v === undefined || v === '') {
      if (required) throw new Error(`a vsphere URI needs ${k}=`);
      return undefined;
    }
    if (!NAME.test(v)) throw new Error(`invalid ${k} ${JSON.stringify(v)}`);
    return v;
  };
  const transport = q.get('transport') ?? 'https';
  if (transport !== 'https' && transport !== 'http')
    throw new Error(`transport must be https or http, got ${transport}`);
  const ms = (k: string, dflt: number): number => {
    const v = q.get(k);
    if (v === null) return dflt;
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0 || n > 3_600_000) throw new Error(`invalid ${k} ${v}`);
    return n;
  };
  const disabled = (q.get('disable') ?? '')
    .split(',')
    .filter(Boolean)
    .map((d) => {
      if (!(SWITCHABLE as readonly string[]).includes(d)) throw new Error(`disable=${d}: not a capability`);
      return d as Switchable;
    });
  const passwordFile = q.get('passwordFile') ?? undefined;
  if (passwordFile !== undefined && !passwordFile.startsWith('/')) throw new Error('passwordFile must be absolute');
  return {
    sdkUrl: `${transport}://${url.host}/sdk`,
    user: decodeURIComponent(url.username),
    datacenter: name('datacenter', true)!,
    cluster: name('cluster', false),
    host: name('host', true)!,
    datastore: name('datastore', false),
    insecure: q.get('insecure') === 'true' || q.get('insecure') === '1',
    passwordFile,
    callTimeoutMs: ms('callTimeoutMs', 60_000),
    stopTimeoutMs: ms('stopTimeoutMs', 60_000),
    disabled,
  };
}

/** The secret, read when the driver logs in (never at parse time: the API parses URIs without secrets). */
export function readPassword(config: VsphereHostConfig, env: NodeJS.ProcessEnv = process.env): string {
  const file = config.passwordFile ?? env.VSPHERE_PASSWORD_FILE;
  if (file) {
    try {
      return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new Error(`cannot read the vSphere password file ${file}: ${(err as Error).message}`, { cause: err });
    }
  }
  if (env.VSPHERE_PASSWORD) return env.VSPHERE_PASSWORD;
  throw new Error('no vSphere password: set passwordFile= in the URI, VSPHERE_PASSWORD_FILE or VSPHERE_PASSWORD');
}

/**
 * What a vsphere host declares, from its URI alone. Every verb maps to a vSphere task that the
 * simulator runs too (SuspendVM for pause, RelocateVM for both migrations, snapshots with and
 * without memory); ESXi always runs guests on VT-x/AMD-V, hence hardwareAcceleration.
 */
export function vsphereCapabilities(uri: string): DriverCapabilities {
  const config = parseVsphereUri(uri);
  const caps: DriverCapabilities = {
    liveMigration: true,
    coldMigration: true,
    memorySnapshots: true,
    diskSnapshots: true,
    pause: true,
    reboot: true,
    hardwareAcceleration: true,
  };
  for (const d of config.disabled) caps[d] = false;
  return caps;
}
