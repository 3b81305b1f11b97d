import { chmodSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, resolve } from 'node:path';
import type { HostBinding, VmSpec } from '../../../src/drivers/hypervisor-driver.port.js';
import { parseLibvirtUri } from '../../../src/drivers/libvirt/libvirt-uri.js';
import type { ContractTarget } from '../contract-target.js';
import {
  ensureDaemons,
  libvirtSkipReason,
  qemuPidsOf,
  removeDomainsUnder,
  waitFor,
  type LibvirtDaemons,
} from './libvirt-test-env.js';

/**
 * The libvirt driver for the shared contract suite: the first host on qemu:///system, the second
 * on the peer libvirtd (own mount + UTS namespace, loopback TCP) that .ci/services/libvirt.sh
 * starts, so migration between them is a real `virsh migrate --live --p2p`. When CI did not start
 * the daemons, the first host() starts them and the last cleanup() stops them again.
 */
let daemons: LibvirtDaemons | undefined;
let hostsInUse = 0;

function daemonsUp(): LibvirtDaemons {
  daemons ??= ensureDaemons();
  return daemons;
}

/** libvirt's QEMU runs as libvirt-qemu: it needs search permission down to the suite's temp storage dir. */
function makeReachable(storageDir: string): void {
  const top = resolve(tmpdir());
  for (let dir = resolve(storageDir); dir.startsWith(`${top}/`); dir = dirname(dir)) {
    try {
      const mode = statSync(dir).mode & 0o777;
      if ((mode & 0o001) === 0) chmodSync(dir, mode | 0o111);
    } catch {
      // not made yet: the driver creates it 0711
    }
  }
}

function binding(id: string, uri: string, storageDir: string, params: Record<string, string>): HostBinding {
  makeReachable(storageDir);
  hostsInUse++;
  // A guest-less spec ignores ACPI, so a graceful stop waits this long before `virsh destroy`.
  const query = new URLSearchParams({ storage: storageDir, stopTimeoutMs: '3000', domainType: 'qemu', ...params });
  return { id, driver: 'libvirt', uri: `${uri}?${query.toString()}`, storageDir };
}

/**
 * Not a literal typed ContractTarget: the optional restrictedHost hook may be newer than the
 * interface this tree has, and a literal would refuse the extra member.
 */
const libvirtTarget = {
  kind: 'libvirt',

  async skipReason() {
    return libvirtSkipReason();
  },

  async host(id: string, storageDir: string) {
    return binding(id, daemonsUp().uri, storageDir, {});
  },

  async secondHost(id: string, storageDir: string) {
    const peerUri = daemonsUp().peerUri;
    if (!peerUri) return undefined;
    return binding(id, peerUri, storageDir, { peerUri, migrationHost: '127.0.0.1' });
  },

  /** The same daemon with capabilities switched off in the URI, so the refusals can be proven. */
  async restrictedHost(id: string, storageDir: string): Promise<HostBinding> {
    return binding(id, daemonsUp().uri, storageDir, { disable: 'pause,reboot,memorySnapshots,liveMigration' });
  },

  spec(vmId: string): VmSpec {
    // No guest OS: SeaBIOS alone is up in well under a second and is enough for every verb.
    return { id: vmId, name: vmId, vcpus: 1, memoryMiB: 64, diskGiB: 1 };
  },

  async killFromOutside(_host: HostBinding, vmId: string) {
    const name = `vl-${vmId}`;
    const pids = qemuPidsOf(name);
    if (pids.length === 0) throw new Error(`no QEMU runs domain ${name}`);
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    await waitFor(`QEMU of ${name} gone`, () => qemuPidsOf(name).length === 0, 20_000);
  },

  async cleanup(host: HostBinding) {
    const config = parseLibvirtUri(host.uri);
    await removeDomainsUnder(config.connectUri, config.storageDir ?? host.storageDir);
    hostsInUse = Math.max(0, hostsInUse - 1);
    if (hostsInUse === 0 && daemons) {
      daemons.stop();
      daemons = undefined;
    }
  },
};

export const target: ContractTarget = libvirtTarget;
