import { isAbsolute } from 'node:path';
import { DriverError } from '../hypervisor-driver.port.js';
import { assertUnderHostDirRoots, type HostPolicy } from '../kit/host-policy.js';

export type DomainTypeChoice = 'auto' | 'kvm' | 'qemu';

/** What a `libvirt` host URI configures: a libvirt connection URI plus virtledger's own parameters. */
export interface LibvirtHostConfig {
  /** The URI handed to `virsh -c`, with virtledger's parameters removed. */
  connectUri: string;
  /** The hypervisor behind it: `qemu` for qemu+tcp://…, `xen`, `test`, `esx`, … */
  hypervisor: string;
  /** True when the connection URI names no remote host (libvirtd on this machine). */
  local: boolean;
  storageDir?: string;
  /** Directories of the image catalog `spec.image` must lie in (default `<storageDir>/.images`); `images=` may repeat. */
  imagesDirs: string[];
  domainType: DomainTypeChoice;
  /** Grace period of a graceful stop before `virsh destroy`. */
  stopTimeoutMs: number;
  /** Deadline of one ordinary virsh call. */
  callTimeoutMs: number;
  /** Deadline of `virsh migrate` (RAM plus, without shared storage, the disk). */
  migrationTimeoutMs: number;
  /** Cap of a live migration's stream in MiB/s (`virsh migrate --bandwidth`, RAM and the disk mirror); none when absent. */
  migrationBandwidth?: number;
  /** The URI another host's libvirtd uses to reach this one (peer-to-peer migration target). */
  peerUri?: string;
  /** Address the source QEMU sends the migration stream to (`--migrateuri tcp://<it>`). */
  migrationHost?: string;
  /** Capabilities the operator turned off for this host (`disable=pause,liveMigration`): refused as unsupported. */
  disabled: DisableableCapability[];
}

export const DISABLEABLE = [
  'liveMigration',
  'coldMigration',
  'memorySnapshots',
  'diskSnapshots',
  'pause',
  'reboot',
] as const;
export type DisableableCapability = (typeof DISABLEABLE)[number];

/** Our parameters; everything else in the query (socket=, no_verify=, …) belongs to libvirt and is kept. */
const KEYS = new Set([
  'storage',
  'images',
  'domainType',
  'stopTimeoutMs',
  'callTimeoutMs',
  'migrationTimeoutMs',
  'migrationBandwidth',
  'peerUri',
  'migrationHost',
  'disable',
]);

/**
 * Parses a libvirt host URI such as `qemu:///system`,
 * `qemu+tcp://10.0.0.2/system?peerUri=qemu+tcp://10.0.0.2/system`, `test:///default` or
 * `xen:///system?storage=/srv/vms`. libvirt's own query parameters pass through untouched, except
 * those that make virsh run a program or skip verification (refused unless the policy allows them).
 * With a policy, storage= and images= must lie under its host dir roots.
 */
export function parseLibvirtUri(uri: string, policy?: HostPolicy): LibvirtHostConfig {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new Error(`invalid libvirt host URI ${JSON.stringify(uri)}`);
  }
  const scheme = url.protocol.replace(/:$/, '');
  if (!/^[a-z][a-z0-9]*(\+[a-z0-9]+)?$/.test(scheme)) {
    throw new Error(`libvirt host URI needs a scheme like qemu:, qemu+tcp:, xen:, test:, got ${JSON.stringify(uri)}`);
  }
  const q = url.searchParams;
  if (!policy?.allowUnsafeLibvirtUris) assertSafeTransport(scheme, q);
  const ours = new URLSearchParams();
  const theirs = new URLSearchParams();
  for (const [k, v] of q) (KEYS.has(k) ? ours : theirs).append(k, v);
  const connect = new URL(uri);
  connect.search = theirs.toString();
  const domainType = ours.get('domainType') ?? 'auto';
  if (domainType !== 'auto' && domainType !== 'kvm' && domainType !== 'qemu') {
    throw new Error(`domainType must be auto, kvm or qemu, got ${JSON.stringify(domainType)}`);
  }
  const local = url.hostname === '';
  const peerUri = ours.get('peerUri') ?? (local ? undefined : connect.toString());
  if (peerUri !== undefined) {
    const peer = new URL(peerUri);
    if (peer.hostname === '') throw new Error(`peerUri must name a host other libvirtds can reach, got ${peerUri}`);
  }
  const migrationHost = ours.get('migrationHost') ?? (peerUri ? new URL(peerUri).hostname : undefined);
  if (migrationHost !== undefined && !/^[A-Za-z0-9.:[\]-]+$/.test(migrationHost)) {
    throw new Error(`invalid migrationHost ${JSON.stringify(migrationHost)}`);
  }
  const storage = ours.get('storage');
  const images = ours.getAll('images');
  const dirs = images.map((dir) => ({ key: 'images', dir }));
  if (storage !== null) dirs.unshift({ key: 'storage', dir: storage });
  for (const { key, dir } of dirs) {
    if (!isAbsolute(dir) || dir.includes('\0')) throw new Error(`${key} must be an absolute path, got ${dir}`);
    assertUnderHostDirRoots(key, dir, policy);
  }
  const disabled = (ours.get('disable') ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  for (const d of disabled) {
    if (!(DISABLEABLE as readonly string[]).includes(d)) {
      throw new Error(`disable: unknown capability ${JSON.stringify(d)} (one of ${DISABLEABLE.join(', ')})`);
    }
  }
  return {
    disabled: disabled as DisableableCapability[],
    connectUri: connect.toString(),
    hypervisor: scheme.split('+')[0]!,
    local,
    storageDir: storage ?? undefined,
    imagesDirs: images,
    domainType,
    stopTimeoutMs: positiveInt('stopTimeoutMs', ours.get('stopTimeoutMs'), 30_000),
    callTimeoutMs: positiveInt('callTimeoutMs', ours.get('callTimeoutMs'), 60_000),
    migrationTimeoutMs: positiveInt('migrationTimeoutMs', ours.get('migrationTimeoutMs'), 10 * 60_000),
    ...(ours.has('migrationBandwidth')
      ? { migrationBandwidth: positiveInt('migrationBandwidth', ours.get('migrationBandwidth'), 0) }
      : {}),
    peerUri,
    migrationHost,
  };
}

/**
 * libvirt's `ext` transport and `command=` run a program of the URI's choosing; `socket=` and
 * `netcat=` choose what virsh connects through or runs on the far side; `no_verify` accepts any
 * TLS peer. The worker runs virsh as root, so none of them is taken from a host URI unless an
 * administrator allowed it (LIBVIRT_ALLOW_UNSAFE_URIS=1).
 */
const UNSAFE_PARAMS = ['command', 'socket', 'netcat', 'no_verify'];

function assertSafeTransport(scheme: string, q: URLSearchParams): void {
  if (scheme.split('+')[1] === 'ext') {
    throw new DriverError('invalid', `transport +ext runs a program: refused (LIBVIRT_ALLOW_UNSAFE_URIS=1 allows it)`);
  }
  for (const key of UNSAFE_PARAMS) {
    if (q.has(key)) {
      throw new DriverError('invalid', `URI parameter ${key}= is refused (LIBVIRT_ALLOW_UNSAFE_URIS=1 allows it)`);
    }
  }
}

function positiveInt(name: string, value: string | null, fallback: number): number {
  if (value === null) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got ${value}`);
  return n;
}
