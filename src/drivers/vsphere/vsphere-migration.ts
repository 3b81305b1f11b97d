import { DriverError, type CallContext, type MigrationEndpoint, type VmSpec } from '../hypervisor-driver.port.js';
import { el, textEl } from './xml.js';
import { moXml } from './soap-client.js';
import { domainState, vmName } from './inventory.js';
import type { VsphereContext } from './vsphere-context.js';

/**
 * vCenter moves a VM between its hosts in one task (RelocateVM_Task: vMotion when it runs, a cold
 * relocation when it is off), so the port's four steps shrink: prepareIncoming on the target
 * resolves where the VM must go (host, resource pool, datastore) and reserves nothing;
 * migrate on the source runs the task; finishIncoming on the target checks the VM arrived;
 * abortIncoming has nothing to undo. A redelivered step finds the VM already moved and succeeds.
 * RelocateVM_Task rather than MigrateVM_Task: it is the current API on every vCenter, covers
 * host, pool and datastore at once, and is the one the simulator implements.
 */
export interface VsphereEndpoint {
  driver: 'vsphere';
  mode: 'live' | 'cold';
  /** The target's vCenter (instanceUuid): cross-vCenter vMotion is not done by this driver. */
  vcenter: string;
  host: string;
  pool: string;
  datastore: string;
}

/** Managed object ids are opaque (the simulator's datastore ids are paths): only length and XML-safety are checked. */
const MOID = {
  test: (v: string): boolean => v.length > 0 && v.length <= 512 && ![...v].some((ch) => ch < ' ' || '<>&'.includes(ch)),
};

export function parseEndpoint(raw: MigrationEndpoint): VsphereEndpoint {
  const bad = (why: string): DriverError => new DriverError('failed', `invalid vsphere migration endpoint: ${why}`);
  if (raw.driver !== 'vsphere') throw bad(`driver is ${String(raw.driver)}, not vsphere`);
  if (raw.mode !== 'live' && raw.mode !== 'cold') throw bad(`mode ${String(raw.mode)}`);
  const str = (k: string, pattern: { test(v: string): boolean }): string => {
    const v = raw[k];
    if (typeof v !== 'string' || !pattern.test(v)) throw bad(`${k} ${JSON.stringify(v)}`);
    return v;
  };
  return {
    driver: 'vsphere',
    mode: raw.mode,
    vcenter: str('vcenter', /^[\w:/.-]{1,200}$/),
    host: str('host', MOID),
    pool: str('pool', MOID),
    datastore: str('datastore', MOID),
  };
}

export async function prepareIncoming(
  c: VsphereContext,
  spec: VmSpec,
  opts: { live: boolean },
  ctx: CallContext,
): Promise<MigrationEndpoint> {
  const p = await c.placement(ctx);
  if (await c.here(spec.id, ctx)) {
    throw new DriverError('conflict', `VM ${vmName(spec.id)} is already on host ${c.config.host}`);
  }
  const e: VsphereEndpoint = {
    driver: 'vsphere',
    mode: opts.live ? 'live' : 'cold',
    vcenter: p.instanceUuid,
    host: p.host.value,
    pool: p.pool.value,
    datastore: p.datastore.value,
  };
  return { ...e };
}

export async function migrate(
  c: VsphereContext,
  spec: VmSpec,
  raw: MigrationEndpoint,
  opts: { live: boolean },
  ctx: CallContext,
): Promise<void> {
  const e = parseEndpoint(raw);
  const p = await c.placement(ctx);
  if (e.vcenter !== p.instanceUuid) {
    throw new DriverError('failed', `the target host is in another vCenter (${e.vcenter}, this is ${p.instanceUuid})`);
  }
  const v = await c.inventory.findVm(spec.id, ctx.signal);
  if (!v) throw new DriverError('not_found', `no VM ${vmName(spec.id)} in datacenter ${c.config.datacenter}`);
  if (v.host === e.host) return; // a redelivered migrate: the task already moved it
  if (v.host !== p.host.value) {
    throw new DriverError(
      'not_found',
      `VM ${vmName(spec.id)} is on host ${v.host ?? '?'}, neither here nor at the target`,
    );
  }
  const state = domainState(v);
  if (opts.live && state !== 'running')
    throw new DriverError('conflict', `a live migration needs VM ${spec.id} running (it is ${state})`);
  if (!opts.live && state !== 'stopped')
    throw new DriverError('conflict', `a cold migration needs VM ${spec.id} stopped (it is ${state})`);
  const relocateSpec = el(
    'spec',
    moXml('datastore', { type: 'Datastore', value: e.datastore }) +
      moXml('pool', { type: 'ResourcePool', value: e.pool }) +
      moXml('host', { type: 'HostSystem', value: e.host }),
  );
  await c.task(
    'RelocateVM_Task',
    v.ref,
    relocateSpec + textEl('priority', 'defaultPriority'),
    `${opts.live ? 'live' : 'cold'} migration of ${spec.id} to ${e.host}`,
    ctx,
  );
}

export async function finishIncoming(
  c: VsphereContext,
  spec: VmSpec,
  opts: { live: boolean },
  ctx: CallContext,
): Promise<void> {
  const v = await c.here(spec.id, ctx);
  if (!v) throw new DriverError('not_found', `no migration of ${vmName(spec.id)} arrived on host ${c.config.host}`);
  if (opts.live && domainState(v) !== 'running') {
    throw new DriverError('failed', `VM ${spec.id} is ${domainState(v)} on ${c.config.host} after a live migration`);
  }
}
