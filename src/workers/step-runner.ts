import type { CallContext, DomainState, HypervisorDriver } from '../drivers/hypervisor-driver.port.js';
import type { StepOutput } from '../domain/vm/vm.commands.js';
import type { HostJobData } from '../application/jobs.js';

function asVmState(s: DomainState): 'running' | 'paused' | 'stopped' {
  return s === 'running' || s === 'paused' ? s : 'stopped';
}

/** One table from job step to driver verb (libvirt's one-table-per-driver habit, turned around). */
export async function runStep(driver: HypervisorDriver, job: HostJobData, ctx: CallContext): Promise<StepOutput> {
  const { spec, args } = job;
  switch (job.step) {
    case 'define':
      await driver.define(spec, ctx);
      return {};
    case 'start':
      await driver.start(spec, ctx);
      return {};
    case 'stop':
      await driver.stop(
        spec,
        { force: args.force ?? false, ...(args.timeoutMs ? { timeoutMs: args.timeoutMs } : {}) },
        ctx,
      );
      return {};
    case 'reboot':
      await driver.reboot(spec, ctx);
      return {};
    case 'pause':
      await driver.pause(spec, ctx);
      return {};
    case 'resume':
      await driver.resume(spec, ctx);
      return {};
    case 'snapshot':
      await driver.snapshot(spec, args.name ?? '', { memory: args.memory ?? false }, ctx);
      return {};
    case 'revert':
      return { state: asVmState(await driver.revert(spec, args.name ?? '', ctx)) };
    case 'deleteSnapshot':
      await driver.deleteSnapshot(spec, args.name ?? '', ctx);
      return {};
    case 'prepareIncoming':
      return { endpoint: await driver.prepareIncoming(spec, { live: args.live ?? true }, ctx) };
    case 'migrate':
      await driver.migrate(spec, args.endpoint ?? {}, { live: args.live ?? true }, ctx);
      return {};
    case 'finishIncoming':
      await driver.finishIncoming(spec, { live: args.live ?? true }, ctx);
      return {};
    case 'abortIncoming':
      await driver.abortIncoming(spec, ctx);
      return {};
    case 'destroy':
      await driver.destroy(spec, ctx);
      return {};
  }
}
