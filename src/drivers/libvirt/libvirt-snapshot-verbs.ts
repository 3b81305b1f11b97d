import {
  DriverError,
  type CallContext,
  type DomainState,
  type SnapshotInfo,
  type VmSpec,
} from '../hypervisor-driver.port.js';
import {
  assertRevertableInternal,
  deleteExternal,
  deleteInternal,
  findExternal,
  revertExternal,
  takeExternal,
  tidy,
} from './libvirt-external-snapshots.js';
import { isActive, type LibvirtHost } from './libvirt-host.js';

export async function takeSnapshot(
  h: LibvirtHost,
  spec: VmSpec,
  name: string,
  opts: { memory: boolean },
  ctx: CallContext,
): Promise<SnapshotInfo> {
  const s = await h.domstate(spec.id, ctx);
  if (s.state === 'absent') throw h.notDefined(spec.id);
  if (s.state === 'migrating') throw new DriverError('conflict', `VM ${spec.id} is migrating`);
  // Memory: libvirt's internal snapshot (savevm into the disk file). Disk only, running or
  // not, and anything asked of a stopped VM (it has no memory to keep): an external one.
  const memory = opts.memory && isActive(s.state);
  h.require(memory ? 'memorySnapshots' : 'diskSnapshots', memory ? 'a memory snapshot' : 'a disk snapshot');
  const existing = (await h.snapshots(spec.id, ctx)).find((x) => x.name === name);
  if (existing) {
    // A retried request must not fail on its own first success; a different snapshot under that name must.
    if (existing.memory === memory) return existing;
    throw new DriverError(
      'conflict',
      `VM ${spec.id} already has a ${existing.memory ? 'memory' : 'disk-only'} snapshot named ${name}`,
    );
  }
  if (!memory) {
    // An external overlay covers the VM's disk only: a revert would bring the disk back and not
    // the volumes. Refused rather than half a snapshot; a memory snapshot (internal, every qcow2
    // disk of the domain, volumes included) covers them.
    if ((spec.volumes ?? []).length > 0) {
      throw new DriverError(
        'unsupported',
        `VM ${spec.id} has volumes attached: a libvirt disk-only snapshot (and any of a stopped VM) would leave them out; take a memory snapshot of the running VM, or detach them`,
      );
    }
    return takeExternal(h.chain(spec, ctx), name);
  }
  await h.v(['snapshot-create-as', h.domainName(spec.id), name, '--atomic'], ctx);
  const taken = (await h.snapshots(spec.id, ctx)).find((x) => x.name === name);
  if (!taken) throw new DriverError('failed', `snapshot ${name} of ${spec.id} is not listed after creation`);
  return taken;
}

export async function revertSnapshot(
  h: LibvirtHost,
  spec: VmSpec,
  name: string,
  ctx: CallContext,
): Promise<DomainState> {
  const chain = h.chain(spec, ctx);
  const external = findExternal(chain.vmDir, name);
  if (external) {
    // A disk-only snapshot has no running machine to come back to: the VM ends stopped.
    if (isActive((await h.domstate(spec.id, ctx)).state)) await h.hardStop(spec.id, ctx);
    await revertExternal(chain, external);
  } else {
    if (!(await h.snapshots(spec.id, ctx)).some((s) => s.name === name)) {
      throw new DriverError('not_found', `VM ${spec.id} has no snapshot ${name}`);
    }
    await assertRevertableInternal(chain, name);
    // libvirt restores the definition saved with the snapshot, its disk file included, and
    // brings the VM back running (memory) or stopped (an internal disk-only one).
    await h.v(['snapshot-revert', h.domainName(spec.id), name], ctx);
    await tidy(chain);
  }
  return (await h.domstate(spec.id, ctx)).state;
}

export async function deleteSnapshot(h: LibvirtHost, spec: VmSpec, name: string, ctx: CallContext): Promise<void> {
  if ((await h.domstate(spec.id, ctx)).state === 'absent') throw h.notDefined(spec.id);
  const chain = h.chain(spec, ctx);
  const external = findExternal(chain.vmDir, name);
  if (external) {
    await deleteExternal(chain, external);
    return;
  }
  if (!(await h.snapshots(spec.id, ctx)).some((x) => x.name === name)) return; // already gone
  await deleteInternal(chain, name);
}
