import { Inject, Injectable, NotFoundException } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { handleCommand, type CommandMeta } from '../../application/handle-command.js';
import type { AggregateLoader } from '../../application/load-aggregate.js';
import { admitVolume, releaseVolumeAdmission } from '../../application/project-admission.js';
import { releaseClaims, visibleVolume } from '../../application/volume-claims.js';
import { hotplugsVolumes, keepsVolumes } from '../../application/volume-drivers.js';
import { DomainError } from '../../domain/domain-error.js';
import { hostDecider } from '../../domain/host/host.decider.js';
import { free, type HostState } from '../../domain/host/host.state.js';
import { hostStream, vmStream, volumeStream } from '../../domain/streams.js';
import type { VmCommand } from '../../domain/vm/vm.commands.js';
import { vmDecider } from '../../domain/vm/vm.decider.js';
import { vmProject } from '../../domain/vm/vm.state.js';
import type { VolumeCommand } from '../../domain/volume/volume.commands.js';
import { volumeDecider } from '../../domain/volume/volume.decider.js';
import { mayUse, projectForCreate } from '../../http/auth/project-scope.js';
import type { Principal } from '../../http/auth/roles.js';
import { AGGREGATES, CLOCK, PROJECTIONS, READ_MODELS, type Clock, type ProjectionControl } from '../../http/tokens.js';
import type { ReadModels } from '../../projections/read-models.js';
import { toVolumeView, type VolumeView } from './volume.view.js';

export interface VolumeContext {
  principal: Principal;
  reason?: string;
}

export interface VolumeAccepted {
  operationId: string;
  volumeId?: string;
  vmId?: string;
}

const hostLabel = (h: HostState) => `host ${h.name} (${h.id})`;

/**
 * Volumes: records on their own streams (`volume-<id>`), a file on one host each. Everything
 * the control plane can know is refused before the first event: unknown ids, another
 * project's, a host without room or without volumes, attached elsewhere, shrink.
 */
@Injectable()
export class VolumesService {
  constructor(
    @Inject(AGGREGATES) private readonly aggregates: AggregateLoader,
    @Inject(READ_MODELS) private readonly readModels: ReadModels,
    @Inject(PROJECTIONS) private readonly projections: ProjectionControl,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  private meta(operationId: string, ctx: VolumeContext): CommandMeta {
    return {
      principal: ctx.principal.id,
      correlationId: operationId,
      causationId: `http:${operationId}`,
      ...(ctx.reason ? { reason: ctx.reason } : {}),
    };
  }

  private async volumeCommand(volumeId: string, cmd: VolumeCommand, meta: CommandMeta): Promise<void> {
    const r = await handleCommand(this.aggregates, volumeDecider, volumeStream(volumeId), cmd, meta, {
      now: () => this.clock.now(),
    });
    const last = r.events[r.events.length - 1];
    if (last) await this.projections.waitFor(last.position, 3000, ['vms', 'volumes']);
  }

  private async hostState(hostId: string): Promise<HostState> {
    return (await this.aggregates.load(hostDecider, hostStream(hostId))).state;
  }

  private async candidateHosts(hostId: string | undefined): Promise<HostState[]> {
    if (hostId) {
      const h = await this.hostState(hostId);
      if (!h.exists || h.removed) throw new DomainError('not_found', `hostId: host ${hostId} not found`);
      if (!keepsVolumes(h.driver)) {
        throw new DomainError(
          'unsupported',
          `hostId: ${hostLabel(h)} runs the ${h.driver} driver, which keeps no volumes`,
        );
      }
      return [h];
    }
    const recs = await this.readModels.listHosts();
    const states = await Promise.all(recs.map((r) => this.hostState(r.state.id ?? '')));
    const room = (h: HostState) => free(h).diskGiB ?? Number.MAX_SAFE_INTEGER;
    return states.filter((h) => h.exists && !h.removed && keepsVolumes(h.driver)).sort((a, b) => room(b) - room(a));
  }

  /** Placement for a volume: the host with the most free disk that takes it (its disk reserved on its stream). */
  private async reserveDisk(
    volumeId: string,
    operationId: string,
    sizeGiB: number,
    hostId: string | undefined,
    meta: CommandMeta,
  ): Promise<string> {
    const hosts = await this.candidateHosts(hostId);
    if (hosts.length === 0)
      throw new DomainError('capacity', 'no registered host keeps volumes (qemu, libvirt, container)');
    const refusals: string[] = [];
    for (const h of hosts) {
      try {
        await handleCommand(
          this.aggregates,
          hostDecider,
          hostStream(h.id ?? ''),
          { type: 'ReserveVolumeDisk', volumeId, operationId, sizeGiB },
          meta,
          { now: () => this.clock.now() },
        );
        return h.id ?? '';
      } catch (err) {
        if (!(err instanceof DomainError) || err.code !== 'capacity') throw err;
        refusals.push(err.message);
      }
    }
    throw new DomainError('capacity', `no host can take a ${sizeGiB} GiB volume: ${refusals.join('; ')}`, {
      refusals,
    });
  }

  async create(
    body: { name: string; sizeGiB: number; hostId?: string; project?: string },
    ctx: VolumeContext,
  ): Promise<VolumeAccepted> {
    const project = projectForCreate(ctx.principal, body.project);
    const volumeId = randomUUID();
    const operationId = randomUUID();
    const meta = this.meta(operationId, ctx);
    await this.admit(project, volumeId, body.sizeGiB, meta);
    await this.unlessRefused(project, volumeId, meta, async () => {
      const hostId = await this.reserveDisk(volumeId, operationId, body.sizeGiB, body.hostId, meta);
      await this.volumeCommand(
        volumeId,
        { type: 'CreateVolume', volumeId, operationId, name: body.name, sizeGiB: body.sizeGiB, hostId, project },
        meta,
      );
    });
    return { operationId, volumeId };
  }

  /** The project's diskGiB quota first: a 429 here has appended nothing anywhere. */
  private admit(project: string, volumeId: string, sizeGiB: number, meta: CommandMeta): Promise<void> {
    return admitVolume(this.aggregates, this.readModels, project, volumeId, sizeGiB, meta, () => this.clock.now());
  }

  /**
   * Runs what follows an admission; when it is refused before the volume's own event (no host
   * has room, a concurrent change), the admission is given back so it does not hold the quota.
   */
  private async unlessRefused(
    project: string,
    volumeId: string,
    meta: CommandMeta,
    work: () => Promise<void>,
  ): Promise<void> {
    try {
      await work();
    } catch (err) {
      if (err instanceof DomainError) {
        await releaseVolumeAdmission(this.aggregates, project, volumeId, meta, () => this.clock.now());
      }
      throw err;
    }
  }

  async resize(volumeId: string, sizeGiB: number, ctx: VolumeContext): Promise<VolumeAccepted> {
    const state = await visibleVolume(this.aggregates, volumeId, (p) => mayUse(ctx.principal, p));
    const operationId = randomUUID();
    const cmd: VolumeCommand = { type: 'ResizeVolume', operationId, sizeGiB };
    // The decider's refusals (shrink, attached, busy) come before the host's disk is touched.
    if (volumeDecider.decide(cmd, state).length === 0) {
      // Already done: the operation that grows it is the answer; an equal size is no change to accept.
      if (state.pending) return { operationId: state.pending.id, volumeId };
      throw new DomainError('conflict', `sizeGiB: volume ${volumeId} already has ${sizeGiB} GiB`);
    }
    const meta = this.meta(operationId, ctx);
    await this.admit(state.project, volumeId, sizeGiB, meta);
    await this.unlessRefused(state.project, volumeId, meta, async () => {
      if (state.hostId) {
        await handleCommand(
          this.aggregates,
          hostDecider,
          hostStream(state.hostId),
          { type: 'ReserveVolumeDisk', volumeId, operationId, sizeGiB },
          meta,
          { now: () => this.clock.now() },
        );
      }
      await this.volumeCommand(volumeId, cmd, meta);
    });
    return { operationId, volumeId };
  }

  async delete(volumeId: string, ctx: VolumeContext): Promise<VolumeAccepted> {
    const state = await visibleVolume(this.aggregates, volumeId, (p) => mayUse(ctx.principal, p));
    const operationId = randomUUID();
    if (state.pending?.kind === 'deleteVolume') return { operationId: state.pending.id, volumeId };
    await this.volumeCommand(volumeId, { type: 'DeleteVolume', operationId }, this.meta(operationId, ctx));
    return { operationId, volumeId };
  }

  async view(volumeId: string, p: Principal): Promise<VolumeView> {
    const rec = await this.readModels.getVolume(volumeId);
    if (!rec || !rec.state.exists || rec.state.status === 'deleted' || !mayUse(p, rec.state.project)) {
      throw new NotFoundException(`volume ${volumeId} not found`);
    }
    return toVolumeView(rec);
  }

  async list(p: Principal): Promise<VolumeView[]> {
    return (await this.readModels.listVolumes())
      .filter((r) => r.state.exists && r.state.status !== 'deleted' && mayUse(p, r.state.project))
      .map(toVolumeView);
  }

  private async vm(vmId: string, p: Principal) {
    const { state } = await this.aggregates.load(vmDecider, vmStream(vmId));
    if (!state.exists || !mayUse(p, vmProject(state))) throw new NotFoundException(`VM ${vmId} not found`);
    return state;
  }

  private async vmCommand(vmId: string, cmd: VmCommand, meta: CommandMeta): Promise<void> {
    const r = await handleCommand(this.aggregates, vmDecider, vmStream(vmId), cmd, meta, {
      now: () => this.clock.now(),
    });
    const last = r.events[r.events.length - 1];
    if (last) await this.projections.waitFor(last.position, 3000, ['vms', 'volumes']);
  }

  private async hotplug(hostId: string | null): Promise<boolean> {
    return hostId ? hotplugsVolumes((await this.hostState(hostId)).driver) : false;
  }

  /**
   * The volume is claimed on its own stream first (one VM at a time), then the VM's attach is
   * recorded; both decisions are asked before either is appended, so a refusal records nothing.
   */
  async attach(vmId: string, volumeId: string, ctx: VolumeContext): Promise<VolumeAccepted> {
    const vm = await this.vm(vmId, ctx.principal);
    const volume = await visibleVolume(this.aggregates, volumeId, (p) => mayUse(ctx.principal, p));
    if (volume.project !== vmProject(vm)) {
      throw new DomainError(
        'conflict',
        `volume ${volumeId} belongs to project ${volume.project}, VM ${vmId} to ${vmProject(vm)}`,
      );
    }
    const operationId = randomUUID();
    const attach: VmCommand = {
      type: 'AttachVolume',
      operationId,
      volume: { volumeId, name: volume.name, sizeGiB: volume.sizeGiB },
      hotplug: await this.hotplug(vm.hostId),
    };
    const claim: VolumeCommand = { type: 'ClaimVolume', vmId, operationId, vmHostId: vm.hostId };
    volumeDecider.decide(claim, volume);
    vmDecider.decide(attach, vm);
    const meta = this.meta(operationId, ctx);
    await this.volumeCommand(volumeId, claim, meta);
    try {
      await this.vmCommand(vmId, attach, meta);
    } catch (err) {
      // The VM moved on between the check and the append: give the claim back.
      await releaseClaims(this.aggregates, [volumeId], vmId, operationId, 'the attach was refused', meta);
      throw err;
    }
    return { operationId, vmId, volumeId };
  }

  async detach(vmId: string, volumeId: string, ctx: VolumeContext): Promise<VolumeAccepted> {
    const vm = await this.vm(vmId, ctx.principal);
    const operationId = randomUUID();
    await this.vmCommand(
      vmId,
      { type: 'DetachVolume', operationId, volumeId, hotplug: await this.hotplug(vm.hostId) },
      this.meta(operationId, ctx),
    );
    return { operationId, vmId, volumeId };
  }
}
