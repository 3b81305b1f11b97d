import { Inject, Injectable, NotFoundException } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { handleCommand, type CommandMeta, type HandleResult } from '../../application/handle-command.js';
import type { AggregateLoader } from '../../application/load-aggregate.js';
import { capabilitiesOfHost, type Capabilities } from '../../application/host-capabilities.js';
import {
  chooseMigrationTarget,
  hotplugLayoutTravels,
  internalSnapshotsTravel,
} from '../../application/migration-targets.js';
import { volumesBlockMove } from '../../application/volume-drivers.js';
import { admitToGroup } from '../../application/group-admission.js';
import { vmProject } from '../../domain/vm/vm.state.js';
import { DomainError } from '../../domain/domain-error.js';
import type { HostCommand } from '../../domain/host/host.commands.js';
import { allocationEntries } from '../../domain/host/allocations.js';
import { hostDecider } from '../../domain/host/host.decider.js';
import type { EvacuationChild, EvacuationRefusal, Resources } from '../../domain/host/host.events.js';
import type { HostState } from '../../domain/host/host.state.js';
import { hostStream, vmStream } from '../../domain/streams.js';
import { vmDecider } from '../../domain/vm/vm.decider.js';
import type { VmState } from '../../domain/vm/vm.state.js';
import { NO_CAPABILITIES, type CapabilityView } from '../../domain/vm/vm.types.js';
import type { Principal } from '../../http/auth/roles.js';
import {
  AGGREGATES,
  CAPABILITIES,
  CLOCK,
  PROJECTIONS,
  READ_MODELS,
  type Clock,
  type ProjectionControl,
} from '../../http/tokens.js';
import type { ReadModels } from '../../projections/read-models.js';

/** Host maintenance: update, drain/restore, remove, evacuate. Each is one host-stream command (evacuate: plus one migration per VM). */
@Injectable()
export class HostFleetService {
  constructor(
    @Inject(AGGREGATES) private readonly aggregates: AggregateLoader,
    @Inject(READ_MODELS) private readonly readModels: ReadModels,
    @Inject(CAPABILITIES) private readonly capabilities: Capabilities,
    @Inject(PROJECTIONS) private readonly projections: ProjectionControl,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  private meta(p: Principal, operationId: string, reason?: string): CommandMeta {
    return {
      principal: p.id,
      correlationId: operationId,
      causationId: `http:${operationId}`,
      ...(reason ? { reason } : {}),
    };
  }

  async host(hostId: string): Promise<HostState> {
    const { state } = await this.aggregates.load(hostDecider, hostStream(hostId));
    if (!state.exists) throw new NotFoundException(`host ${hostId} not found`);
    if (state.removed) throw new NotFoundException(`host ${hostId} was removed`);
    return state;
  }

  /** One host command; the answer waits until the read models hold it (read-your-writes). */
  async command(hostId: string, cmd: HostCommand, p: Principal, reason?: string): Promise<HandleResult<HostState>> {
    await this.host(hostId);
    const operationId = randomUUID();
    const result = await handleCommand(
      this.aggregates,
      hostDecider,
      hostStream(hostId),
      cmd,
      this.meta(p, operationId, reason),
      {
        now: () => this.clock.now(),
      },
    );
    const last = result.events[result.events.length - 1];
    if (last) await this.projections.waitFor(last.position, 3000);
    return result;
  }

  private async others(): Promise<HostState[]> {
    const recs = await this.readModels.listHosts();
    const states = await Promise.all(
      recs.map(async (r) => (await this.aggregates.load(hostDecider, hostStream(r.state.id ?? ''))).state),
    );
    return states.filter((h) => h.exists && !h.removed);
  }

  /**
   * Drains the host, then asks one migration per VM (live when the VM runs and both drivers can,
   * cold when it is stopped), each to a target placement picks, and records the parent operation
   * with its children and the VMs it could not move, and why. Progress and the result are in
   * GET /v1/operations/{id} as the children finish.
   */
  async evacuate(hostId: string, p: Principal, reason?: string): Promise<{ operationId: string }> {
    await this.command(hostId, { type: 'SetHostState', state: 'draining' }, p, reason);
    const source = await this.host(hostId);
    const operationId = randomUUID();
    const meta = this.meta(p, operationId, reason);
    const targets = await this.others();
    const planned = new Map<string, Resources>();
    const children: EvacuationChild[] = [];
    const refused: EvacuationRefusal[] = [];
    const sourceCaps = capabilitiesOfHost(source, this.capabilities.probe) ?? NO_CAPABILITIES;
    // Largest first: they are the hardest to fit.
    const vms = allocationEntries(source.allocations).sort(([, a], [, b]) => b.memoryMiB - a.memoryMiB);
    for (const [vmId, size] of vms) {
      const { state } = await this.aggregates.load(vmDecider, vmStream(vmId));
      const why = this.cannotMove(state, sourceCaps) ?? volumesBlockMove(source.driver, state.spec?.volumes);
      if (why) {
        refused.push({ vmId, reason: why });
        continue;
      }
      let choice;
      try {
        choice = await this.target(state, targets, source, size, planned, meta);
      } catch (err) {
        if (!(err instanceof DomainError)) throw err;
        refused.push({ vmId, reason: err.message });
        continue;
      }
      if (!choice.ok) {
        refused.push({ vmId, reason: choice.reason });
        continue;
      }
      const target = targets.find((h) => h.id === choice.hostId)!;
      const live = state.state === 'running';
      const childId = randomUUID();
      try {
        await handleCommand(
          this.aggregates,
          vmDecider,
          vmStream(vmId),
          {
            type: 'MigrateVm',
            operationId: childId,
            targetHostId: choice.hostId,
            live,
            source: { driver: source.driver, capabilities: sourceCaps },
            target: {
              driver: target.driver,
              capabilities: capabilitiesOfHost(target, this.capabilities.probe) ?? NO_CAPABILITIES,
            },
            internalSnapshotsTravel: internalSnapshotsTravel(source, target),
            hotplugLayoutTravels: hotplugLayoutTravels(source, target),
          },
          { ...meta, causationId: `evacuate:${operationId}`, correlationId: operationId },
          { now: () => this.clock.now() },
        );
        children.push({ vmId, operationId: childId, targetHostId: choice.hostId, live });
      } catch (err) {
        if (!(err instanceof DomainError)) throw err;
        refused.push({ vmId, reason: err.message });
      }
    }
    const result = await handleCommand(
      this.aggregates,
      hostDecider,
      hostStream(hostId),
      { type: 'StartEvacuation', operationId, children, refused },
      meta,
      { now: () => this.clock.now() },
    );
    const last = result.events[result.events.length - 1];
    if (last) await this.projections.waitFor(last.position, 3000);
    return { operationId };
  }

  /**
   * Where one VM of the evacuation goes: only hosts its hostSelector matches; a VM in a placement
   * group is admitted on the group's stream (a hard rule is never broken: it stays, listed with why).
   */
  private async target(
    vm: VmState,
    targets: HostState[],
    source: HostState,
    size: Resources,
    planned: Map<string, Resources>,
    meta: CommandMeta,
  ): Promise<{ ok: true; hostId: string } | { ok: false; reason: string }> {
    const selector = vm.spec?.hostSelector ?? {};
    const matching = targets.filter((h) => Object.entries(selector).every(([k, v]) => h.labels[k] === v));
    const groupId = vm.spec?.placementGroupId;
    if (!groupId) return chooseMigrationTarget(matching, source.id ?? '', source.driver, size, planned);
    // What earlier moves of this evacuation claimed is not in the host streams yet: count it as used.
    const withPlanned = matching.map((h) => {
      const p = planned.get(h.id ?? '');
      return p
        ? { ...h, capacity: { vcpus: h.capacity.vcpus - p.vcpus, memoryMiB: h.capacity.memoryMiB - p.memoryMiB } }
        : h;
    });
    const { hostId } = await admitToGroup(
      this.aggregates,
      this.readModels,
      groupId,
      vmProject(vm),
      {
        vmId: vm.id ?? '',
        vmName: vm.spec?.name ?? '',
        vcpus: size.vcpus,
        memoryMiB: size.memoryMiB,
        excludeHostId: source.id ?? '',
        driver: source.driver,
        ...(vm.spec?.placement ? { strategy: vm.spec.placement } : {}),
      },
      () => Promise.resolve(withPlanned),
      meta,
      () => this.clock.now(),
    );
    const p = planned.get(hostId) ?? { vcpus: 0, memoryMiB: 0 };
    planned.set(hostId, { vcpus: p.vcpus + size.vcpus, memoryMiB: p.memoryMiB + size.memoryMiB });
    return { ok: true, hostId };
  }

  /** Why a VM cannot be moved now, or undefined. */
  private cannotMove(state: VmState, caps: CapabilityView): string | undefined {
    if (!state.exists || state.state === 'deleted') return 'the VM no longer exists';
    if (state.pending) return `busy with operation ${state.pending.id} (${state.pending.kind})`;
    if (state.state === 'running' && !caps.liveMigration) {
      return "running, and the host's driver cannot live-migrate: stop it, then evacuate again (cold)";
    }
    if (state.state === 'stopped' && !caps.coldMigration) return "stopped, and the host's driver cannot cold-migrate";
    if (state.state !== 'running' && state.state !== 'stopped')
      return `${state.state}: only running or stopped VMs move`;
    return undefined;
  }
}
