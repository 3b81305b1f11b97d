import { readdirSync, readFileSync } from 'node:fs';
import { createDriver } from '../../src/drivers/driver-registry.js';
import type { DomainState } from '../../src/drivers/hypervisor-driver.port.js';
import type { ApiClient } from './api-client.js';

export interface HostRef {
  id: string;
  driver: 'simulated' | 'qemu';
  uri: string;
  storageDir: string;
}

export interface DriverFigures {
  /** VMs whose ledger state the driver does not confirm. */
  disagreements: string[];
  /** Domains the driver runs that no live VM owns, or a VM present on two hosts. */
  orphans: string[];
  vms: number;
}

/** Which driver states confirm a ledger state. */
function confirms(ledger: string, real: DomainState | undefined): boolean {
  const r = real ?? 'absent';
  switch (ledger) {
    case 'running':
    case 'paused':
      return r === ledger;
    case 'stopped':
      return r === 'stopped' || r === 'crashed';
    case 'deleted':
      return r === 'absent';
    case 'failed':
    case 'requested':
      // A failed create may leave a defined but stopped domain; never a running one.
      return r === 'absent' || r === 'stopped' || r === 'crashed';
    default:
      return false; // provisioning, migrating, deleting: the run did not settle
  }
}

/**
 * Asks each host's driver (listDomains, as the reconciler does) what really
 * runs, and compares it with every VM the API lists.
 */
export async function driverFigures(client: ApiClient, hosts: HostRef[]): Promise<DriverFigures> {
  const real = new Map<string, Array<{ host: string; state: DomainState }>>();
  const out: DriverFigures = { disagreements: [], orphans: [], vms: 0 };
  for (const h of hosts) {
    const driver = createDriver({ id: h.id, driver: h.driver, uri: h.uri, storageDir: h.storageDir });
    try {
      for (const d of await driver.listDomains()) {
        if (!d.managed) continue;
        const list = real.get(d.vmId) ?? [];
        list.push({ host: h.id, state: d.state });
        real.set(d.vmId, list);
      }
    } finally {
      await driver.close();
    }
  }
  const r = await client.get('/v1/vms?limit=1000');
  if (r.status !== 200) throw new Error(`GET /v1/vms: ${r.status} ${JSON.stringify(r.body)}`);
  const vms = r.body.items as Array<{ id: string; state: string; hostId: string | null }>;
  out.vms = vms.length;
  const known = new Set(vms.map((v) => v.id));
  for (const v of vms) {
    const found = real.get(v.id) ?? [];
    if (found.length > 1) out.orphans.push(`${v.id} on ${found.map((f) => f.host).join(' and ')}`);
    const here = found.find((f) => f.host === v.hostId);
    const live = found.find((f) => f.state !== 'absent');
    if (!confirms(v.state, here?.state ?? (v.state === 'deleted' ? live?.state : undefined)))
      out.disagreements.push(`${v.id}: ledger ${v.state}, driver ${here?.state ?? live?.state ?? 'absent'}`);
  }
  for (const [vmId, found] of real) if (!known.has(vmId)) out.orphans.push(`${vmId}: no such VM, on ${found[0]!.host}`);
  return out;
}

/** PIDs of qemu-system processes whose command line names `dir` (a host's storage). */
export function qemuPidsUnder(dir: string): Array<{ pid: number; cmdline: string }> {
  const out: Array<{ pid: number; cmdline: string }> = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes('qemu-system') && cmd.includes(dir)) out.push({ pid: Number(d), cmdline: cmd });
    } catch {
      // exited while we looked
    }
  }
  return out;
}

/**
 * QEMU processes of a storage dir that are not exactly one per running or
 * paused VM: an orphan (no VM, or a VM the ledger says is stopped/deleted) or
 * a double (two processes for one VM).
 */
export async function qemuOrphans(client: ApiClient, dir: string): Promise<string[]> {
  const r = await client.get('/v1/vms?limit=1000');
  const vms = (r.body.items ?? []) as Array<{ id: string; state: string }>;
  const procs = qemuPidsUnder(dir);
  const problems: string[] = [];
  for (const p of procs) {
    const vm = vms.find((v) => p.cmdline.includes(v.id));
    if (!vm) problems.push(`qemu pid ${p.pid} belongs to no VM`);
    else if (vm.state !== 'running' && vm.state !== 'paused')
      problems.push(`qemu pid ${p.pid} runs for ${vm.id}, which is ${vm.state}`);
  }
  for (const v of vms) {
    const n = procs.filter((p) => p.cmdline.includes(v.id)).length;
    if (n > 1) problems.push(`${v.id} has ${n} qemu processes`);
  }
  return problems;
}
