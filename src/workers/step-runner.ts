import {
  DriverError,
  type CallContext,
  type DomainState,
  type HypervisorDriver,
} from '../drivers/hypervisor-driver.port.js';
import type { HostJobData, StepResult, VolumeJobData } from '../application/jobs.js';
import { driverSpec } from './driver-spec.js';
import { checkJob, checkVolumeJob } from './job-check.js';
import type { CatalogImages } from './catalog-images.port.js';

function asVmState(s: DomainState): 'running' | 'paused' | 'stopped' {
  return s === 'running' || s === 'paused' ? s : 'stopped';
}

/**
 * One table from job step to driver verb (libvirt's one-table-per-driver habit, turned around).
 * The job is checked against the contract first: a malformed one throws MalformedJobError and
 * never reaches the driver.
 */
export async function runStep(
  driver: HypervisorDriver,
  data: HostJobData,
  ctx: CallContext,
  images?: CatalogImages,
): Promise<StepResult> {
  const job = checkJob(data);
  const spec = driverSpec(job.spec.id, job.spec);
  // A catalog image reaches the driver as this host's verified copy (fetched on first use);
  // destroy needs no image, and must work even once the catalog has let it go.
  const ref = job.spec.catalogImage;
  if (ref && job.step !== 'destroy') {
    if (!images)
      throw new DriverError('invalid', `image ${ref.name} is a catalog image and this worker has no catalog`);
    spec.image = await images.localImage(ref, ctx.signal);
  }
  switch (job.step) {
    case 'define':
      await driver.define(spec, ctx);
      return { step: job.step, output: {} };
    case 'start':
      await driver.start(spec, ctx);
      return { step: job.step, output: {} };
    case 'stop': {
      const { force, timeoutMs } = job.args;
      // A zero or absent timeout means the driver's own default, as it always has.
      await driver.stop(spec, { force, ...(timeoutMs ? { timeoutMs } : {}) }, ctx);
      return { step: job.step, output: {} };
    }
    case 'reboot':
      await driver.reboot(spec, ctx);
      return { step: job.step, output: {} };
    case 'pause':
      await driver.pause(spec, ctx);
      return { step: job.step, output: {} };
    case 'resume':
      await driver.resume(spec, ctx);
      return { step: job.step, output: {} };
    case 'snapshot':
      await driver.snapshot(spec, job.args.name, { memory: job.args.memory }, ctx);
      return { step: job.step, output: {} };
    case 'revert':
      return { step: job.step, output: { state: asVmState(await driver.revert(spec, job.args.name, ctx)) } };
    case 'deleteSnapshot':
      await driver.deleteSnapshot(spec, job.args.name, ctx);
      return { step: job.step, output: {} };
    case 'prepareIncoming':
      return {
        step: job.step,
        output: { endpoint: await driver.prepareIncoming(spec, { live: job.args.live }, ctx) },
      };
    case 'migrate':
      await driver.migrate(spec, job.args.endpoint, { live: job.args.live }, ctx);
      return { step: job.step, output: {} };
    case 'finishIncoming':
      await driver.finishIncoming(spec, { live: job.args.live }, ctx);
      return { step: job.step, output: {} };
    case 'abortIncoming':
      await driver.abortIncoming(spec, ctx);
      return { step: job.step, output: {} };
    case 'destroy':
      await driver.destroy(spec, ctx);
      return { step: job.step, output: {} };
    case 'attachVolume':
      if (!driver.attachVolume) throw new DriverError('unsupported', `the ${driver.kind} driver cannot attach volumes`);
      await driver.attachVolume(spec, job.args.volume, { live: job.args.live }, ctx);
      return { step: job.step, output: {} };
    case 'detachVolume':
      if (!driver.detachVolume) throw new DriverError('unsupported', `the ${driver.kind} driver cannot detach volumes`);
      await driver.detachVolume(spec, job.args.volume, { live: job.args.live }, ctx);
      return { step: job.step, output: {} };
    case 'resizeLive':
      if (!driver.resizeLive)
        throw new DriverError('unsupported', `the ${driver.kind} driver cannot resize a running VM`);
      await driver.resizeLive(spec, { ...job.args.to }, ctx);
      return { step: job.step, output: {} };
  }
}

/**
 * A create that should run, as one job: define, then start. `onDefined` hears of the define's
 * success before the start begins (the worker reports it with the start's outcome, success or
 * failure). A cancel or deadline that came during the define stops before the start. A retry
 * runs both again: each driver verb is idempotent, and the decider takes one result per step.
 */
export async function runDefineThenStart(
  driver: HypervisorDriver,
  data: Extract<HostJobData, { step: 'define' }>,
  ctx: CallContext,
  images: CatalogImages | undefined,
  onDefined: (result: StepResult) => void,
): Promise<StepResult> {
  await runStep(driver, data, ctx, images);
  onDefined({ step: 'define', output: { startFollows: true } });
  ctx.signal?.throwIfAborted();
  return runStep(driver, { ...data, step: 'start', args: {} }, ctx, images);
}

/** A volume's own step: create, grow or remove its file on this host. */
export async function runVolumeStep(driver: HypervisorDriver, data: VolumeJobData, ctx: CallContext): Promise<void> {
  const job = checkVolumeJob(data);
  const none = () => new DriverError('unsupported', `the ${driver.kind} driver has no volumes (${job.step})`);
  switch (job.step) {
    case 'createVolume':
      if (!driver.createVolume) throw none();
      return driver.createVolume(job.args.volume, ctx);
    case 'resizeVolume':
      if (!driver.resizeVolume) throw none();
      return driver.resizeVolume(job.args.volume, job.args.vmId ? { vmId: job.args.vmId } : {}, ctx);
    case 'deleteVolume':
      if (!driver.deleteVolume) throw none();
      return driver.deleteVolume(job.args.volume, ctx);
  }
}
