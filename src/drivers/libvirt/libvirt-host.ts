import { chmodSync, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, normalize } from 'node:path';
import {
  DriverError,
  type CallContext,
  type DomainState,
  type DomainStatus,
  type DriverCapabilities,
  type HostBinding,
  type SnapshotInfo,
  type VmSpec,
} from '../hypervisor-driver.port.js';
import { volumeImagePath, volumeNodeName } from '../kit/volume-files.js';
import type { HostPolicy } from '../kit/host-policy.js';
import { kernelBootOf } from '../kit/image-catalog.js';
import { HostNetworks } from '../kit/network/host-networks.js';
import { bridgeName } from '../kit/network/nic-names.js';
import { assertSafeName } from '../kit/safe-name.js';
import { parseDomstate } from './domain-state.js';
import { domainXml } from './domain-xml.js';
import { ensureSeed } from '../kit/nocloud-seed.js';
import { capabilitiesFor, resolveDomainType } from './libvirt-capabilities.js';
import { listExternal, type DiskChainScope } from './libvirt-external-snapshots.js';
import type { VirshCall } from './libvirt-migration.js';
import { parseSnapshotList } from './libvirt-snapshots.js';
import { parseLibvirtUri, type LibvirtHostConfig } from './libvirt-uri.js';
import { isInvalidState, isNotFound, virsh } from './virsh.js';

/** Every domain this driver defines is named `vl-<vmId>`; other domains are reported unmanaged. */
export const DOMAIN_PREFIX = 'vl-';

export interface VmFiles {
  vmDir: string;
  disk: string;
  xml: string;
  incoming: string;
  consoleLog: string;
  /** Written when stop acknowledges a crashed domain: libvirt keeps saying "crashed" until the next start. */
  stopAck: string;
}

/** A libvirtd reached over loopback runs on this machine, in this network namespace: its taps meet our bridges. */
function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export function isActive(state: DomainState): boolean {
  return state === 'running' || state === 'paused' || state === 'migrating';
}

/**
 * One libvirt host as the verbs see it: its connection, its storage and image catalog, and the
 * virsh calls every verb shares (domain state, snapshots list, definition, hard stop). The
 * verbs themselves live in libvirt-lifecycle.ts, libvirt-snapshot-verbs.ts and
 * libvirt-incoming.ts / libvirt-outgoing.ts; the driver only dispatches under its lock.
 */
export class LibvirtHost {
  readonly config: LibvirtHostConfig;
  readonly storageDir: string;
  readonly imagesDirs: string[];
  readonly capabilities: DriverCapabilities;
  /** The bridges, DHCP and NAT of this host's networks (libvirt makes the taps itself). */
  readonly networks: HostNetworks;

  constructor(
    readonly binding: HostBinding,
    policy?: HostPolicy,
  ) {
    this.config = parseLibvirtUri(binding.uri, policy);
    const storageDir = normalize(this.config.storageDir ?? binding.storageDir);
    if (!isAbsolute(storageDir)) throw new Error(`storage dir must be absolute, got ${storageDir}`);
    this.storageDir = storageDir;
    this.imagesDirs = this.config.imagesDirs.length > 0 ? this.config.imagesDirs : [join(storageDir, '.images')];
    this.capabilities = capabilitiesFor(this.config);
    this.networks = new HostNetworks({ owner: `libvirt-${binding.id}` });
  }

  /** Makes the VM's networks exist on this machine (where libvirtd runs: a local URI) with its DHCP entries. */
  async plugNetworks(spec: VmSpec): Promise<void> {
    if (!spec.nics?.length) return;
    if (!this.config.local && !isLoopback(new URL(this.uri).hostname)) {
      throw new DriverError(
        'unsupported',
        `host ${this.binding.id} (${this.uri}): NICs on networks need libvirtd on the worker's machine`,
      );
    }
    await this.networks.plugBridges(spec.id, spec.nics);
  }

  get uri(): string {
    return this.config.connectUri;
  }

  domainName(vmId: string): string {
    return `${DOMAIN_PREFIX}${assertSafeName('vm id', vmId)}`;
  }

  files(vmId: string): VmFiles {
    const vmDir = join(this.storageDir, assertSafeName('vm id', vmId));
    return {
      vmDir,
      disk: join(vmDir, 'disk.qcow2'),
      xml: join(vmDir, 'domain.xml'),
      incoming: join(vmDir, 'incoming.json'),
      consoleLog: join(vmDir, 'console.log'),
      stopAck: join(vmDir, 'crash-acknowledged'),
    };
  }

  notDefined(vmId: string): DriverError {
    return new DriverError('not_found', `VM ${vmId} is not defined on ${this.uri}`);
  }

  async defineXml(spec: VmSpec, f: VmFiles, ctx: CallContext, disk = f.disk): Promise<void> {
    const xml = domainXml({
      domainName: this.domainName(spec.id),
      vmId: spec.id,
      title: spec.name,
      hostId: this.binding.id,
      domainType: resolveDomainType(this.config),
      vcpus: spec.vcpus,
      memoryMiB: spec.memoryMiB,
      ...(spec.maxVcpus !== undefined ? { maxVcpus: spec.maxVcpus } : {}),
      ...(spec.maxMemoryMiB !== undefined ? { maxMemoryMiB: spec.maxMemoryMiB } : {}),
      disk,
      consoleLog: f.consoleLog,
      kernel: kernelBootOf(spec.image, this.imagesDirs),
      seed: await ensureSeed(f.vmDir, spec, ctx.signal),
      nics: (spec.nics ?? []).map((n) => ({ bridge: bridgeName(n.networkId), mac: n.mac })),
      // A (re)define carries the VM's volumes, as attach-device --config left them.
      volumes: (spec.volumes ?? []).map((v, index) => ({
        path: volumeImagePath(this.storageDir, v),
        index,
        serial: volumeNodeName(v),
      })),
    });
    writeFileSync(f.xml, xml);
    await this.v(['define', f.xml], ctx);
  }

  /** The VM's disk files and snapshot record, for libvirt-external-snapshots.ts. */
  chain(spec: VmSpec, ctx: CallContext): DiskChainScope {
    const f = this.files(spec.id);
    return {
      virsh: this.virshCall,
      domain: this.domainName(spec.id),
      vmDir: f.vmDir,
      ctx,
      running: async () => isActive((await this.domstate(spec.id, ctx)).state),
      defineWithDisk: (disk) => this.defineXml(spec, f, ctx, disk),
      volumes: (spec.volumes ?? []).map((v) => volumeImagePath(this.storageDir, v)),
    };
  }

  async hardStop(vmId: string, ctx: CallContext): Promise<void> {
    await this.v(['destroy', this.domainName(vmId)], ctx).catch((err: unknown) => {
      if (!isInvalidState(err) && !isNotFound(err)) throw err; // already stopped: the end state asked for
    });
  }

  async snapshots(vmId: string, ctx: CallContext): Promise<SnapshotInfo[]> {
    // In the order they were taken: by creation time (whole seconds), ties kept in topological
    // order, parents before children (virsh's default order is by name).
    const out = await this.v(['snapshot-list', this.domainName(vmId), '--topological'], ctx);
    const all = [...parseSnapshotList(out), ...listExternal(this.files(vmId).vmDir)];
    return all.sort((x, y) => (x.createdAt ?? '').localeCompare(y.createdAt ?? ''));
  }

  async domstate(vmId: string, ctx: CallContext): Promise<DomainStatus> {
    return this.acknowledged(vmId, await this.domstateAt(this.uri, this.domainName(vmId), ctx));
  }

  /** A crash the control plane acknowledged with a stop reads as stopped (libvirt only forgets it at the next start). */
  acknowledged<T extends DomainStatus>(vmId: string, s: T): T {
    if (s.state !== 'crashed' || !existsSync(this.files(vmId).stopAck)) return s;
    return { ...s, state: 'stopped', detail: `${s.detail ?? 'crashed'}, acknowledged by a stop` };
  }

  async domstateAt(uri: string, name: string, ctx: CallContext): Promise<DomainStatus> {
    try {
      return parseDomstate(await virsh(uri, ['domstate', '--reason', name], this.opts(ctx)));
    } catch (err) {
      if (isNotFound(err)) return { state: 'absent' };
      throw err;
    }
  }

  readonly virshCall: VirshCall = (args, ctx, timeoutMs) => this.v(args, ctx, timeoutMs);

  v(args: string[], ctx: CallContext, timeoutMs?: number): Promise<string> {
    return virsh(this.uri, args, this.opts(ctx, timeoutMs));
  }

  private opts(ctx: CallContext, timeoutMs?: number): { timeoutMs: number; signal?: AbortSignal } {
    return { timeoutMs: timeoutMs ?? this.config.callTimeoutMs, signal: ctx.signal };
  }

  /** An undeclared capability is refused before anything is touched (the API refuses it first, with 422). */
  require(cap: keyof Omit<DriverCapabilities, 'hardwareAcceleration'>, verb: string): void {
    if (this.capabilities[cap]) return;
    throw new DriverError(
      'unsupported',
      `${verb} is not supported on host ${this.binding.id} (${this.uri}): no ${cap}`,
    );
  }

  /**
   * The QEMU that libvirt starts runs as its own user (libvirt-qemu on Debian), so it needs search
   * permission on every directory down to the disk; the ones made here are 0711, and a parent
   * that blocks it is reported now rather than as an obscure "Permission denied" at start.
   */
  ensureStorageDir(vmDir: string): void {
    for (const dir of [this.storageDir, vmDir]) {
      if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o711 });
      const mode = statSync(dir).mode & 0o777;
      if ((mode & 0o001) === 0) chmodSync(dir, mode | 0o111);
    }
    if (!this.config.local) return;
    for (let dir = dirname(this.storageDir); dir !== dirname(dir); dir = dirname(dir)) {
      if ((statSync(dir).mode & 0o001) === 0) {
        throw new DriverError(
          'failed',
          `${dir} is not searchable by others: libvirt's QEMU user cannot reach ${vmDir}`,
        );
      }
    }
  }
}
