import { Inject, Injectable, NotFoundException } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { handleCommand, loadState, loadStream, type HandleResult } from '../../application/handle-command.js';
import { hostStream, vmStream } from '../../application/streams.js';
import { driverCapabilities } from '../../drivers/driver-registry.js';
import type { EventStore } from '../../eventstore/event-store.port.js';
import type { Runtime } from '../../runtime/runtime.js';
import { RUNTIME } from '../../runtime/runtime.token.js';
import type { Principal } from '../auth/roles.js';
import { hostDecider } from '../hosts/host.decider.js';
import type { HostState } from '../hosts/host.state.js';
import type { VmCommand } from './vm.commands.js';
import { vmDecider } from './vm.decider.js';
import type { VmState } from './vm.state.js';
import type { CapabilityView } from './vm.types.js';
import { toVmView, type VmView } from './vm.view.js';

export interface Accepted {
  operationId: string;
  vmId: string;
}

export interface CommandContext {
  principal: Principal;
  reason?: string;
  ifMatch?: bigint;
}

type OpCommand = VmCommand & { operationId: string };

@Injectable()
export class VmsService {
  constructor(@Inject(RUNTIME) private readonly rt: Runtime) {}

  get store(): EventStore {
    if (!this.rt.store) throw new Error('this process has no event store (worker role)');
    return this.rt.store;
  }

  /** Runs one command against a VM stream, records metrics, and waits for the read models to include it. */
  private async run(vmId: string, cmd: OpCommand, ctx: CommandContext): Promise<HandleResult<VmState>> {
    const t0 = performance.now();
    try {
      const result = await handleCommand(
        this.store,
        vmDecider,
        vmStream(vmId),
        cmd,
        {
          principal: ctx.principal.id,
          correlationId: cmd.operationId,
          causationId: `http:${cmd.operationId}`,
          ...(ctx.reason ? { reason: ctx.reason } : {}),
        },
        ctx.ifMatch === undefined ? {} : { ifMatch: ctx.ifMatch },
      );
      this.rt.metrics.observeCommand(cmd.type, performance.now() - t0, true);
      const last = result.events[result.events.length - 1];
      if (last) await this.rt.waitForProjections(last.position, 3000, ['vms']);
      return result;
    } catch (err) {
      this.rt.metrics.observeCommand(cmd.type, performance.now() - t0, false);
      throw err;
    }
  }

  async hostState(hostId: string): Promise<HostState> {
    const { state } = await loadState(this.store, hostDecider, hostStream(hostId));
    return state;
  }

  async capabilitiesOf(hostId: string | null): Promise<{ driver: string; capabilities: CapabilityView }> {
    if (!hostId) return { driver: 'none', capabilities: NO_CAPABILITIES };
    const host = await this.hostState(hostId);
    if (!host.exists) return { driver: 'none', capabilities: NO_CAPABILITIES };
    return { driver: host.driver, capabilities: driverCapabilities(host.driver, host.uri) };
  }

  async vmState(vmId: string): Promise<VmState> {
    const { state } = await loadState(this.store, vmDecider, vmStream(vmId));
    if (!state.exists) throw new NotFoundException(`VM ${vmId} not found`);
    return state;
  }

  async create(
    body: {
      name: string;
      vcpus: number;
      memoryMiB: number;
      diskGiB: number;
      hostId?: string;
      start?: boolean;
      image?: string;
    },
    ctx: CommandContext,
  ): Promise<Accepted> {
    if (body.hostId) {
      const host = await this.hostState(body.hostId);
      if (!host.exists) throw new NotFoundException(`hostId: host ${body.hostId} not found`);
    }
    const vmId = randomUUID();
    const operationId = randomUUID();
    await this.run(
      vmId,
      {
        type: 'CreateVm',
        vmId,
        operationId,
        spec: {
          name: body.name,
          vcpus: body.vcpus,
          memoryMiB: body.memoryMiB,
          diskGiB: body.diskGiB,
          ...(body.image ? { image: body.image } : {}),
        },
        hostId: body.hostId ?? null,
        start: body.start ?? true,
      },
      ctx,
    );
    return { operationId, vmId };
  }

  /** Lifecycle and snapshot verbs: the command is built against the VM's current host capabilities. */
  async act(
    vmId: string,
    build: (operationId: string, caps: CapabilityView, state: VmState) => OpCommand | Promise<OpCommand>,
    ctx: CommandContext,
  ): Promise<Accepted> {
    const state = await this.vmState(vmId);
    const { capabilities } = await this.capabilitiesOf(state.hostId);
    const operationId = randomUUID();
    await this.run(vmId, await build(operationId, capabilities, state), ctx);
    return { operationId, vmId };
  }

  async migrate(vmId: string, targetHostId: string, live: boolean, ctx: CommandContext): Promise<Accepted> {
    return this.act(
      vmId,
      async (operationId, caps, state) => {
        const target = await this.hostState(targetHostId);
        if (!target.exists) throw new NotFoundException(`targetHostId: host ${targetHostId} not found`);
        const source = await this.capabilitiesOf(state.hostId);
        return {
          type: 'MigrateVm',
          operationId,
          targetHostId,
          live,
          source: { driver: source.driver, capabilities: caps },
          target: { driver: target.driver, capabilities: driverCapabilities(target.driver, target.uri) },
        };
      },
      ctx,
    );
  }

  /** Read model first; the log when the read model does not have it (yet). `at` replays to an instant. */
  async view(vmId: string, at?: Date, revision?: bigint): Promise<VmView> {
    if (!at && revision === undefined) {
      const rec = await this.rt.readModels.getVm(vmId);
      if (rec) return toVmView(rec.state, rec.revision, rec.createdAt, rec.updatedAt);
    }
    const until =
      at !== undefined
        ? (e: { metadata: { at: string } }) => new Date(e.metadata.at).getTime() <= at.getTime()
        : revision !== undefined
          ? (e: { revision: bigint }) => e.revision <= revision
          : undefined;
    const loaded = await loadStream(this.store, vmDecider, vmStream(vmId), until as never);
    if (!loaded.state.exists || loaded.revision === undefined) {
      if (at || revision !== undefined) {
        const exists = await loadStream(this.store, vmDecider, vmStream(vmId));
        if (exists.state.exists) {
          throw new NotFoundException(`VM ${vmId} did not exist yet at ${at?.toISOString() ?? `revision ${revision}`}`);
        }
      }
      throw new NotFoundException(`VM ${vmId} not found`);
    }
    const first = loaded.events[0]!;
    const last = loaded.events[loaded.events.length - 1]!;
    return toVmView(loaded.state, loaded.revision, first.metadata.at, last.metadata.at);
  }
}

export const NO_CAPABILITIES: CapabilityView = {
  liveMigration: false,
  coldMigration: false,
  memorySnapshots: false,
  diskSnapshots: false,
  pause: false,
  reboot: false,
};
