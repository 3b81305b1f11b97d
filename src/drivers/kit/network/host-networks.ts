import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DriverError, type DriverNic } from '../../hypervisor-driver.port.js';
import { KeyedLock } from '../keyed-lock.js';
import { SAFE_NAME, assertSafeName } from '../safe-name.js';
import { readJson, writeJsonAtomic } from '../vm-files.js';
import { ensureDnsmasq, stopDnsmasq, type DnsmasqConfig } from './dnsmasq.js';
import { withFileLock } from '../file-lock.js';
import { deleteLink, enslave, ensureBridge, ensureTap, ensureVxlan, ip, ipInNetnsOf, linkMtu } from './ip-link.js';
import { ensureNat, removeNat } from './nat.js';
import {
  assertIpv4,
  assertNic,
  bridgeName,
  cidrParts,
  gatewayMac,
  natTableName,
  tapName,
  vethHostName,
  vethPeerName,
  vxlanGroup,
  vxlanName,
} from './nic-names.js';

export interface HostNetworkOptions {
  /** The driver instance (kind + host key): two hosts in one network namespace keep their own records. */
  owner: string;
  /** Default: $NETWORK_STATE_DIR or /run/virtledger/net; a per-network-namespace dir is made inside. */
  stateDir?: string;
  /** The underlay of the VXLAN overlay (default $NETWORK_UNDERLAY_DEV); without one, networks stay on this host. */
  underlayDev?: string;
  /**
   * Underlay addresses of the other hosts, for an underlay without multicast (default
   * $NETWORK_VXLAN_PEERS, comma-separated); empty: flooding through the VNI's multicast group.
   */
  vxlanPeers?: string[];
}

/** A NIC once plugged: the bridge it is on and the host-side port made for it (none for libvirt's own taps). */
export interface PluggedNic {
  index: number;
  networkId: string;
  bridge: string;
  mac: string;
  port?: string;
}

/** What one VM holds on this host, written before anything is made so unplug finds it after a crash. */
interface VmRecord {
  ports: string[];
  networkIds: string[];
}

/**
 * The data plane of virtledger networks on one host, shared by every driver: per network a Linux
 * bridge holding the gateway address (same MAC on every host), a VXLAN port to the other hosts,
 * a dnsmasq answering only for the NICs of VMs running here, and NAT when the network asks for
 * it; per NIC a tap (qemu), a veth pair (containers) or nothing (libvirt makes its own tap).
 * A network is torn down when its last NIC leaves the host. State lives in files keyed by the
 * network namespace, because bridges and dnsmasq belong to the namespace, not to one worker.
 */
export class HostNetworks {
  private readonly root: string;
  private readonly owner: string;
  private readonly underlay: string | undefined;
  private readonly peers: string[];
  private readonly lock = new KeyedLock();

  constructor(options: HostNetworkOptions) {
    this.owner = SAFE_NAME.test(options.owner)
      ? options.owner
      : createHash('sha256').update(options.owner).digest('hex').slice(0, 16);
    const base = options.stateDir ?? process.env.NETWORK_STATE_DIR ?? '/run/virtledger/net';
    this.root = join(base, `ns-${statSync('/proc/self/ns/net').ino}`);
    const underlay = options.underlayDev ?? process.env.NETWORK_UNDERLAY_DEV;
    this.underlay = underlay ? assertSafeName('NETWORK_UNDERLAY_DEV (underlay device)', underlay) : undefined;
    const peers = options.vxlanPeers ?? (process.env.NETWORK_VXLAN_PEERS ?? '').split(',');
    this.peers = peers
      .map((p) => p.trim())
      .filter(Boolean)
      .map((p) => assertIpv4('NETWORK_VXLAN_PEERS', p));
  }

  /** The state dir of this network namespace (operators and tests read it). */
  get stateRoot(): string {
    return this.root;
  }

  /** qemu: a tap per NIC on its network's bridge. */
  async plugTaps(vmId: string, nics: DriverNic[]): Promise<PluggedNic[]> {
    return this.plug(
      vmId,
      nics,
      (i) => this.portFree(vmId, tapName(vmId, i), tapName(`${this.owner}/${vmId}`, i)),
      async (nic, plugged) => {
        await ensureTap(plugged.port ?? '', plugged.bridge);
      },
    );
  }

  /** libvirt: the bridges only; libvirt creates and enslaves its own taps from `<interface type='bridge'>`. */
  async plugBridges(vmId: string, nics: DriverNic[]): Promise<PluggedNic[]> {
    return this.plug(
      vmId,
      nics,
      () => undefined,
      async () => undefined,
    );
  }

  /**
   * containers: a veth pair per NIC, the host end on the bridge, the peer moved into the network
   * namespace of the container's init (`pid`) as eth<index> with its address and, on the first
   * NIC, the default route. A previous run's pair is replaced (it died with the old namespace).
   */
  async plugVeths(vmId: string, nics: DriverNic[], pid: number): Promise<PluggedNic[]> {
    return this.plug(
      vmId,
      nics,
      (i) => vethHostName(vmId, i),
      async (nic, plugged) => {
        const host = plugged.port ?? '';
        const peer = vethPeerName(vmId, plugged.index);
        const inside = `eth${plugged.index}`;
        await deleteLink(host);
        await deleteLink(peer);
        await ip(['link', 'add', 'name', host, 'type', 'veth', 'peer', 'name', peer, 'address', nic.mac]);
        const mtu = await linkMtu(plugged.bridge);
        if (mtu !== undefined && mtu < 1500) {
          await ip(['link', 'set', 'dev', host, 'mtu', String(mtu)]);
          await ip(['link', 'set', 'dev', peer, 'mtu', String(mtu)]);
        }
        await enslave(host, plugged.bridge);
        await ip(['link', 'set', 'dev', peer, 'netns', String(pid)]);
        await ipInNetnsOf(pid, ['link', 'set', 'dev', peer, 'name', inside]);
        await ipInNetnsOf(pid, ['addr', 'replace', `${nic.ip}/${nic.prefixLength}`, 'dev', inside]);
        await ipInNetnsOf(pid, ['link', 'set', 'dev', inside, 'up']);
        if (plugged.index === 0) await ipInNetnsOf(pid, ['route', 'replace', 'default', 'via', nic.gateway]);
      },
    );
  }

  /** Removes the VM's ports and its DHCP entries; a network whose last NIC left is torn down. */
  async unplug(vmId: string): Promise<void> {
    assertSafeName('vm id', vmId);
    const recordPath = this.recordPath(vmId);
    const record = readJson<VmRecord>(recordPath);
    if (!record) return;
    for (const port of record.ports) await deleteLink(port);
    for (const networkId of record.networkIds) await this.leave(networkId, vmId);
    rmSync(recordPath, { force: true });
    try {
      rmdirSync(dirname(recordPath)); // the owner's last VM here
    } catch {
      // other VMs of this owner remain
    }
  }

  private async plug(
    vmId: string,
    nics: DriverNic[],
    portOf: (index: number) => string | undefined,
    makePort: (nic: DriverNic, plugged: PluggedNic) => Promise<void>,
  ): Promise<PluggedNic[]> {
    assertSafeName('vm id', vmId);
    nics.forEach((nic, i) => assertNic(nic, `nics[${i}]`));
    const plugged: PluggedNic[] = nics.map((nic, index) => {
      const port = portOf(index);
      return {
        index,
        networkId: nic.networkId,
        bridge: bridgeName(nic.networkId),
        mac: nic.mac,
        ...(port ? { port } : {}),
      };
    });
    const networkIds = [...new Set(nics.map((n) => n.networkId))];
    mkdirSync(join(this.root, 'vms', this.owner), { recursive: true, mode: 0o755 });
    const previous = readJson<VmRecord>(this.recordPath(vmId));
    writeJsonAtomic(this.recordPath(vmId), {
      ports: [...new Set([...(previous?.ports ?? []), ...plugged.flatMap((p) => (p.port ? [p.port] : []))])],
      networkIds: [...new Set([...(previous?.networkIds ?? []), ...networkIds])],
    } satisfies VmRecord);
    for (const networkId of networkIds) {
      const mine = nics.filter((n) => n.networkId === networkId);
      await this.join(
        mine[0] as DriverNic,
        vmId,
        mine.map((n) => `${n.mac},${n.ip}`),
      );
    }
    for (const p of plugged) await makePort(nics[p.index] as DriverNic, p);
    return plugged;
  }

  /** Makes the network exist here (bridge, overlay, NAT, DHCP) and lists the VM's NICs in its DHCP hosts. */
  private async join(nic: DriverNic, vmId: string, hostLines: string[]): Promise<void> {
    const bridge = bridgeName(nic.networkId);
    await this.exclusive(bridge, async () => {
      const dir = join(this.root, bridge);
      mkdirSync(join(dir, 'members'), { recursive: true, mode: 0o755 });
      writeFileSync(join(dir, 'network.json'), JSON.stringify({ networkId: nic.networkId, cidr: nic.cidr }));
      await ensureBridge(bridge, gatewayMac(nic.networkId), `${nic.gateway}/${nic.prefixLength}`);
      let mtu: number | undefined;
      if (this.underlay) {
        const vx = vxlanName(nic.networkId);
        const group = vxlanGroup(nic.vni);
        await ensureVxlan(vx, { vni: nic.vni, group, underlay: this.underlay, bridge, peers: this.peers });
        mtu = await linkMtu(vx);
      }
      const table = natTableName(nic.networkId);
      if (nic.nat) await ensureNat({ table, cidr: nic.cidr, bridge, file: join(dir, 'nat.nft') });
      else await removeNat(table);
      writeFileSync(join(dir, 'members', this.memberName(vmId)), `${hostLines.join('\n')}\n`, { mode: 0o644 });
      await ensureDnsmasq(this.dnsmasqConfig(nic, dir, mtu));
    });
  }

  private async leave(networkId: string, vmId: string): Promise<void> {
    const bridge = bridgeName(networkId);
    await this.exclusive(bridge, async () => {
      const dir = join(this.root, bridge);
      rmSync(join(dir, 'members', this.memberName(vmId)), { force: true });
      const dnsmasq = { bridge, pidFile: join(dir, 'dnsmasq.pid') };
      if (this.members(dir).length > 0) {
        this.writeHosts(dir);
        await ensureDnsmasq({ ...dnsmasq, ...this.storedRange(dir), hostsFile: join(dir, 'hosts') });
        return;
      }
      await stopDnsmasq(dnsmasq);
      await removeNat(natTableName(networkId));
      await deleteLink(vxlanName(networkId));
      await deleteLink(bridge);
      rmSync(dir, { recursive: true, force: true });
    });
  }

  private dnsmasqConfig(nic: DriverNic, dir: string, mtu: number | undefined): DnsmasqConfig {
    this.writeHosts(dir);
    const { base, netmask } = cidrParts(nic.cidr);
    return {
      bridge: bridgeName(nic.networkId),
      base,
      netmask,
      hostsFile: join(dir, 'hosts'),
      pidFile: join(dir, 'dnsmasq.pid'),
      ...(mtu !== undefined && mtu < 1500 ? { mtu } : {}),
    };
  }

  /** The range arguments when dnsmasq has to be started again on leave (it had died): from network.json. */
  private storedRange(dir: string): { base: string; netmask: string } {
    const stored = readJson<{ cidr: string }>(join(dir, 'network.json'));
    if (!stored) throw new DriverError('failed', `${dir}/network.json is missing`);
    const { base, netmask } = cidrParts(stored.cidr);
    return { base, netmask };
  }

  /** dnsmasq's dhcp-hostsfile: one `mac,ip` line per NIC of every VM of this namespace on the network. */
  private writeHosts(dir: string): void {
    const lines = this.members(dir).map((m) => readFileSync(join(dir, 'members', m), 'utf8'));
    const path = join(dir, 'hosts');
    // dnsmasq re-reads on SIGHUP and must never see a half-written file.
    writeFileSync(`${path}.new`, lines.join(''), { mode: 0o644 });
    renameSync(`${path}.new`, path);
  }

  private members(dir: string): string[] {
    try {
      return readdirSync(join(dir, 'members')).sort();
    } catch {
      return [];
    }
  }

  private memberName(vmId: string): string {
    return `${this.owner}--${vmId}`;
  }

  /**
   * The VM's usual port name, unless another owner in this namespace holds it for the same VM: a
   * migration between two hosts sharing a network namespace (two workers on one machine) has the
   * source's port open while the target plugs its own, so the target takes a name of its own.
   */
  private portFree(vmId: string, usual: string, alternative: string): string {
    let owners: string[];
    try {
      owners = readdirSync(join(this.root, 'vms'));
    } catch {
      return usual;
    }
    const held = owners.some(
      (o) =>
        o !== this.owner &&
        (readJson<VmRecord>(join(this.root, 'vms', o, `${vmId}.json`))?.ports ?? []).includes(usual),
    );
    return held ? alternative : usual;
  }

  private recordPath(vmId: string): string {
    return join(this.root, 'vms', this.owner, `${vmId}.json`);
  }

  /** In-process first (cheap), then across processes of this namespace. */
  private exclusive<T>(bridge: string, fn: () => Promise<T>): Promise<T> {
    return this.lock.run(bridge, () => {
      mkdirSync(this.root, { recursive: true, mode: 0o755 });
      return withFileLock(join(this.root, `${bridge}.lock`), fn);
    });
  }
}
