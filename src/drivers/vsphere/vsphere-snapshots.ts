import {
  DriverError,
  type CallContext,
  type DomainState,
  type SnapshotInfo,
  type VmSpec,
} from '../hypervisor-driver.port.js';
import { assertSafeName } from '../kit/safe-name.js';
import { child, children, textEl, textOf, type XmlNode } from './xml.js';
import { moOf, type MoRef } from './soap-client.js';
import { propertiesOf } from './properties.js';
import { domainState, type VmView } from './inventory.js';
import type { VsphereContext } from './vsphere-context.js';

/**
 * vSphere lets two snapshots share a name and keeps no "memory or not" flag that survives every
 * version, so the driver writes its own marker into the description and treats the name as
 * unique (the port's idempotency: a retried snapshot answers the one it took).
 */
const MARK = 'virtledger:memory=';

interface Snap extends SnapshotInfo {
  ref: MoRef;
  id: number;
}

function flatten(list: XmlNode[], out: Snap[]): Snap[] {
  for (const s of list) {
    const ref = moOf(child(s, 'snapshot'));
    const name = textOf(s, 'name');
    if (ref && name) {
      const description = textOf(s, 'description') ?? '';
      // A snapshot taken in vCenter (no marker): it holds memory when the VM was on at the time.
      const memory = description.startsWith(MARK)
        ? description.slice(MARK.length) === 'true'
        : textOf(s, 'state') === 'poweredOn';
      out.push({ ref, id: Number(textOf(s, 'id') ?? 0), name, memory, createdAt: textOf(s, 'createTime') });
    }
    flatten(children(s, 'childSnapshotList'), out);
  }
  return out;
}

async function snapshotsOf(c: VsphereContext, v: VmView, ctx: CallContext): Promise<Snap[]> {
  const props = await propertiesOf(c.soap, v.ref, ['snapshot'], ctx.signal);
  return flatten(children(props?.get('snapshot'), 'rootSnapshotList'), []).sort((a, b) => a.id - b.id);
}

const info = (s: Snap): SnapshotInfo => ({
  name: s.name,
  memory: s.memory,
  ...(s.createdAt ? { createdAt: s.createdAt } : {}),
});

export async function listSnapshots(c: VsphereContext, spec: VmSpec, ctx: CallContext): Promise<SnapshotInfo[]> {
  return (await snapshotsOf(c, await c.require(spec.id, ctx), ctx)).map(info);
}

export async function takeSnapshot(
  c: VsphereContext,
  spec: VmSpec,
  name: string,
  opts: { memory: boolean },
  ctx: CallContext,
): Promise<SnapshotInfo> {
  assertSafeName('snapshot name', name);
  const v = await c.require(spec.id, ctx);
  const existing = (await snapshotsOf(c, v, ctx)).find((s) => s.name === name);
  if (existing) {
    if (existing.memory !== opts.memory) {
      throw new DriverError(
        'conflict',
        `snapshot ${name} of ${spec.id} exists as a ${existing.memory ? 'memory' : 'disk'} snapshot`,
      );
    }
    return info(existing);
  }
  if (opts.memory && domainState(v) !== 'running') {
    throw new DriverError('conflict', `a memory snapshot needs VM ${spec.id} running (it is ${domainState(v)})`);
  }
  const body =
    textEl('name', name) +
    textEl('description', `${MARK}${opts.memory}`) +
    textEl('memory', opts.memory) +
    textEl('quiesce', false);
  await c.task('CreateSnapshot_Task', v.ref, body, `snapshot ${spec.id}/${name}`, ctx);
  const taken = (await snapshotsOf(c, v, ctx)).find((s) => s.name === name);
  if (!taken) throw new DriverError('failed', `snapshot ${name} of ${spec.id} was created but is not listed`);
  return info(taken);
}

/**
 * RevertToSnapshot_Task. A memory snapshot holds a running machine: vCenter brings it back
 * powered on; the simulator keeps the power state as it was, so the driver powers it on when
 * needed — the port promises "running" after a memory revert either way.
 */
export async function revertSnapshot(
  c: VsphereContext,
  spec: VmSpec,
  name: string,
  ctx: CallContext,
): Promise<DomainState> {
  const v = await c.require(spec.id, ctx);
  const snap = (await snapshotsOf(c, v, ctx)).find((s) => s.name === name);
  if (!snap) throw new DriverError('not_found', `VM ${spec.id} has no snapshot ${name}`);
  await c.task('RevertToSnapshot_Task', snap.ref, '', `revert ${spec.id}/${name}`, ctx);
  let now = await c.require(spec.id, ctx);
  if (snap.memory && domainState(now) !== 'running') {
    await c.powerTask('PowerOnVM_Task', spec.id, now, 'running', `revert ${spec.id}/${name} (power on)`, ctx);
    now = await c.require(spec.id, ctx);
  }
  return domainState(now);
}

/** RemoveSnapshot_Task without its children: a newer snapshot built on it stays revertable. */
export async function deleteSnapshot(c: VsphereContext, spec: VmSpec, name: string, ctx: CallContext): Promise<void> {
  const v = await c.require(spec.id, ctx);
  const snap = (await snapshotsOf(c, v, ctx)).find((s) => s.name === name);
  if (!snap) return;
  await c.task(
    'RemoveSnapshot_Task',
    snap.ref,
    textEl('removeChildren', false) + textEl('consolidate', true),
    `delete snapshot ${spec.id}/${name}`,
    ctx,
  );
}
