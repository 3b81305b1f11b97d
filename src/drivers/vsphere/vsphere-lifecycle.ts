import { setTimeout as sleep } from 'node:timers/promises';
import { DriverError, type CallContext, type VmSpec } from '../hypervisor-driver.port.js';
import { moXml, SoapFault } from './soap-client.js';
import { configSpecXml } from './vm-config-spec.js';
import { domainState, vmName, type VmView } from './inventory.js';
import { TaskFailed } from './tasks.js';
import type { VsphereContext } from './vsphere-context.js';

/** Create the VM on this host (CreateVM_Task), stopped; a VM already here is left as it is. */
export async function defineVm(c: VsphereContext, spec: VmSpec, ctx: CallContext): Promise<void> {
  if (spec.image) {
    // vSphere's way would be CloneVM_Task from a template; until then an image is refused, not ignored.
    throw new DriverError(
      'unsupported',
      `the vsphere driver does not create VMs from images yet (image ${spec.image})`,
    );
  }
  const p = await c.placement(ctx);
  const existing = await c.inventory.findVm(spec.id, ctx.signal);
  if (existing) {
    if (existing.host === p.host.value) return; // a redelivered create
    throw new DriverError('conflict', `VM ${vmName(spec.id)} already exists on host ${existing.host ?? '?'}`);
  }
  const body = configSpecXml(spec, vmName(spec.id), p.datastoreName) + moXml('pool', p.pool) + moXml('host', p.host);
  try {
    await c.task('CreateVM_Task', p.vmFolder, body, `define ${spec.id}`, ctx);
  } catch (err) {
    // Another worker created it meanwhile (vCenter refuses a second VM of the same name in a folder).
    if (err instanceof TaskFailed && err.faultType === 'DuplicateName' && (await c.here(spec.id, ctx))) return;
    throw err;
  }
}

export async function startVm(c: VsphereContext, spec: VmSpec, ctx: CallContext): Promise<void> {
  const v = await c.require(spec.id, ctx);
  if (domainState(v) === 'running') return;
  // From suspended too: powering on resumes it.
  await c.powerTask('PowerOnVM_Task', spec.id, v, 'running', `start ${spec.id}`, ctx);
}

/**
 * Graceful: ShutdownGuest when VMware Tools run in the guest, then wait for poweredOff until the
 * timeout and power off. Without Tools vSphere has no way to ask the guest (no ACPI button in the
 * API), so the VM is powered off at once; a suspended VM cannot answer either.
 */
export async function stopVm(
  c: VsphereContext,
  spec: VmSpec,
  opts: { force: boolean; timeoutMs?: number },
  ctx: CallContext,
): Promise<void> {
  const v = await c.require(spec.id, ctx);
  const state = domainState(v);
  if (state === 'stopped') return;
  if (!opts.force && state === 'running' && v.toolsRunning) {
    const timeoutMs = opts.timeoutMs ?? c.config.stopTimeoutMs;
    // Tools gone between the read and the call (ToolsUnavailable): nobody to wait for, power off now.
    const asked = await c.soap.call('ShutdownGuest', v.ref, '', ctx.signal).then(
      () => true,
      (err: unknown) => {
        if (err instanceof SoapFault) return false;
        throw err;
      },
    );
    const until = Date.now() + timeoutMs;
    while (asked && Date.now() < until) {
      const now = await c.here(spec.id, ctx);
      if (!now || domainState(now) === 'stopped') return;
      await sleep(Math.min(500, Math.max(0, until - Date.now())));
    }
  }
  await c.powerTask('PowerOffVM_Task', spec.id, v, 'stopped', `stop ${spec.id}`, ctx);
}

export async function rebootVm(c: VsphereContext, spec: VmSpec, ctx: CallContext): Promise<void> {
  const v = await c.require(spec.id, ctx);
  if (domainState(v) !== 'running') {
    throw new DriverError('conflict', `reboot needs VM ${spec.id} running (it is ${domainState(v)})`);
  }
  if (v.toolsRunning) {
    await c.soap.call('RebootGuest', v.ref, '', ctx.signal);
    return;
  }
  await c.task('ResetVM_Task', v.ref, '', `reboot ${spec.id}`, ctx);
}

/** Pause = SuspendVM_Task: vSphere writes the guest's memory out and frees the host's CPU. */
export async function pauseVm(c: VsphereContext, spec: VmSpec, ctx: CallContext): Promise<void> {
  const v = await c.require(spec.id, ctx);
  const state = domainState(v);
  if (state === 'paused') return;
  if (state !== 'running') throw new DriverError('conflict', `pause needs VM ${spec.id} running (it is ${state})`);
  await c.powerTask('SuspendVM_Task', spec.id, v, 'paused', `pause ${spec.id}`, ctx);
}

export async function resumeVm(c: VsphereContext, spec: VmSpec, ctx: CallContext): Promise<void> {
  const v = await c.require(spec.id, ctx);
  const state = domainState(v);
  if (state === 'running') return;
  if (state !== 'paused') throw new DriverError('conflict', `resume needs VM ${spec.id} paused (it is ${state})`);
  await c.powerTask('PowerOnVM_Task', spec.id, v, 'running', `resume ${spec.id}`, ctx);
}

/** Power off if needed, then Destroy_Task (disks and snapshots go with it). Absent is done. */
export async function destroyVm(c: VsphereContext, spec: VmSpec, ctx: CallContext): Promise<void> {
  const v: VmView | undefined = await c.here(spec.id, ctx);
  if (!v) return;
  if (domainState(v) !== 'stopped') {
    await c.powerTask('PowerOffVM_Task', spec.id, v, 'stopped', `destroy ${spec.id} (power off)`, ctx);
  }
  try {
    await c.task('Destroy_Task', v.ref, '', `destroy ${spec.id}`, ctx);
  } catch (err) {
    if (!(await c.here(spec.id, ctx))) return; // a concurrent destroy won
    throw err;
  }
}
