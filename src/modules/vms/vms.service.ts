import { Inject, Injectable, NotFoundException } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { handleCommand, type HandleResult } from '../../application/handle-command.js';
import { admitVm, readVmAdmission } from '../../application/project-admission.js';
import { allocateNics, checkNetworks, releaseUnlessRecorded } from '../../application/network-admission.js';
import { mayUse, projectForCreate } from '../../http/auth/project-scope.js';
import type { AggregateLoader } from '../../application/load-aggregate.js';
import { hostStream, imageStream, vmStream } from '../../domain/streams.js';
import { imageDecider } from '../../domain/image/image.decider.js';
import { sshKeyProblem } from '../../domain/patterns.js';
import type { Capabilities } from '../../application/host-capabilities.js';
import type { ReadModels } from '../../projections/read-models.js';
import {
  ABORTS,
  AGGREGATES,
  CAPABILITIES,
  CLOCK,
  METRICS,
  READ_MODELS,
  type Clock,
  type HttpMetrics,
  type OperationAbortPort,
  READ_YOUR_WRITES,
} from '../../http/tokens.js';
import type { ReadYourWrites } from '../../http/read-your-writes.js';
import type { Principal } from '../../http/auth/roles.js';
import { hostDecider } from '../../domain/host/host.decider.js';
import type { HostState } from '../../domain/host/host.state.js';
import { badField } from '../../http/as-of.query.js';
import type { VmCommand } from '../../domain/vm/vm.commands.js';
import { vmDecider } from '../../domain/vm/vm.decider.js';
import { vmProject, type VmState } from '../../domain/vm/vm.state.js';
import {
  NO_CAPABILITIES,
  type CapabilityView,
  type CatalogImageRef,
  type RestartPolicy,
} from '../../domain/vm/vm.types.js';
import { hotplugLayoutTravels, internalSnapshotsTravel } from '../../application/migration-targets.js';
import { DomainError } from '../../domain/domain-error.js';
import { volumesBlockMove } from '../../application/volume-drivers.js';
import { VmPlacement, type PlacementAsk } from './vm-placement.js';
import { RecentHostIds } from './recent-host-ids.js';
import { claimForCreate, releaseClaims } from '../../application/volume-claims.js';
import { checkCeilings, checkImageFitsDriver } from './vm-create-checks.js';
import { requestWithReservation, type Reservation } from './request-with-reservation.js';

export interface Accepted {
  operationId: string;
  vmId: string;
  /** The VM's revision after the command: the 202's ETag (not part of the body). */
  revision?: bigint;
}

export interface CommandContext {
  principal: Principal;
  reason?: string;
  ifMatch?: bigint;
}

type OpCommand = VmCommand & { operationId: string };

@Injectable()
export class VmsService {
  private readonly hostIds = new RecentHostIds(() => this.readModels.hostIds());

  constructor(
    @Inject(AGGREGATES) private readonly aggregates: AggregateLoader,
    @Inject(READ_MODELS) private readonly readModels: ReadModels,
    @Inject(CAPABILITIES) private readonly capabilities: Capabilities,
    @Inject(READ_YOUR_WRITES) private readonly ryw: ReadYourWrites,
    @Inject(METRICS) private readonly metrics: HttpMetrics,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ABORTS) private readonly aborts: OperationAbortPort,
    private readonly placement: VmPlacement,
  ) {}

  /**
   * Runs one command against a VM stream and records metrics (VmResizeService runs its commands
   * through it too). The 202 goes out once the events are durable: reads that could show them wait
   * for the read model instead (read-your-writes.ts), so a lagging projection no longer delays every command.
   */
  async run(
    vmId: string,
    cmd: OpCommand,
    ctx: CommandContext,
    /** Made in the same commit where it can be (request-with-reservation.ts); not with If-Match. */
    reservation?: Reservation,
  ): Promise<HandleResult<VmState>> {
    const t0 = performance.now();
    try {
      const meta = {
        principal: ctx.principal.id,
        correlationId: cmd.operationId,
        causationId: `http:${cmd.operationId}`,
        ...(ctx.reason ? { reason: ctx.reason } : {}),
      };
      const now = () => this.clock.now();
      const result =
        (reservation && ctx.ifMatch === undefined
          ? await requestWithReservation(this.aggregates, vmId, cmd, reservation, meta, now)
          : undefined) ??
        (await handleCommand(this.aggregates, vmDecider, vmStream(vmId), cmd, meta, {
          now,
          ...(ctx.ifMatch === undefined ? {} : { ifMatch: ctx.ifMatch }),
        }));
      this.metrics.observeCommand(cmd.type, performance.now() - t0, true);
      // An operation this command superseded (a graceful stop under a forced one) has its driver call aborted.
      for (const e of result.events) {
        const data = e.data as { operationId?: string; cancelled?: unknown };
        if (e.type === 'VmOperationFailed' && data.cancelled && data.operationId)
          await this.aborts.abort(data.operationId);
      }
      this.ryw.wrote(ctx.principal.id, result.events);
      return result;
    } catch (err) {
      this.metrics.observeCommand(cmd.type, performance.now() - t0, false);
      throw err;
    }
  }

  /** `guess`: the cached state, no store read (AggregateLoader.loadToGuess); a refusal on it is confirmed. */
  async hostState(hostId: string, guess = false): Promise<HostState> {
    if (guess) return this.aggregates.loadToGuess(hostDecider, hostStream(hostId));
    return (await this.aggregates.load(hostDecider, hostStream(hostId))).state;
  }

  /** Every registered host that was not removed, as its stream says now (or as cached: `guess`, recent ids too). */
  async hostStates(guess = false): Promise<HostState[]> {
    const ids = guess ? await this.hostIds.toGuess() : await this.hostIds.fresh();
    const states = await Promise.all(ids.map((id) => this.hostState(id, guess)));
    return states.filter((h) => h.exists && !h.removed);
  }

  /**
   * A size no registered host could hold even empty is refused before any event (422, naming the
   * largest host); "every host is full now" is not known up front and stays a placement failure.
   */
  private async mustFitSomeHost(body: { vcpus: number; memoryMiB: number; hostId?: string }): Promise<void> {
    const fits = (h: HostState) => h.capacity.vcpus >= body.vcpus && h.capacity.memoryMiB >= body.memoryMiB;
    const read = async (guess: boolean) =>
      body.hostId ? [await this.hostState(body.hostId, guess)] : await this.hostStates(guess);
    // The cached states answer "some host could" without a store read per host; a refusal is read fresh.
    if ((await read(true)).some((h) => h.exists && fits(h))) return;
    const hosts = await read(false);
    if (hosts.length === 0 || hosts.some(fits)) return;
    const largest = hosts
      .map((h) => `${h.name} (${h.id}): ${h.capacity.vcpus} vCPUs, ${h.capacity.memoryMiB} MiB`)
      .join('; ');
    throw new DomainError(
      'unsupported',
      `no ${body.hostId ? 'such' : 'registered'} host could ever hold ${body.vcpus} vCPUs and ${body.memoryMiB} MiB ` +
        `(capacity: ${largest})`,
      { fields: ['vcpus', 'memoryMiB'] },
    );
  }

  async capabilitiesOf(hostId: string | null): Promise<{ driver: string; capabilities: CapabilityView }> {
    if (!hostId) return { driver: 'none', capabilities: NO_CAPABILITIES };
    // Driver and capabilities never change after registration: the cached state knows them.
    const host = await this.hostState(hostId, true);
    if (!host.exists) return { driver: 'none', capabilities: NO_CAPABILITIES };
    return { driver: host.driver, capabilities: this.declared(host) };
  }

  /** Recorded at registration; a host from before that is asked of the registry (a refusal is a 400 as before). */
  private declared(host: HostState): CapabilityView {
    return host.capabilities ?? this.capabilities.probe(host.driver, host.uri);
  }

  /** Another project's VM reads exactly as a missing one. */
  async vmState(vmId: string, principal: Principal): Promise<VmState> {
    const { state } = await this.aggregates.load(vmDecider, vmStream(vmId));
    if (!state.exists || !mayUse(principal, vmProject(state))) throw new NotFoundException(`VM ${vmId} not found`);
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
      project?: string;
      userData?: string;
      sshKeys?: string[];
      nics?: { networkId: string }[];
      restartPolicy?: RestartPolicy;
      volumes?: string[];
      maxVcpus?: number;
      maxMemoryMiB?: number;
    } & PlacementAsk,
    ctx: CommandContext,
  ): Promise<Accepted> {
    const project = projectForCreate(ctx.principal, body.project);
    const ceilings = checkCeilings(body);
    for (const [i, key] of (body.sshKeys ?? []).entries()) {
      const problem = sshKeyProblem(key, (b64) => Buffer.from(b64, 'base64'));
      if (problem) throw badField(`sshKeys[${i}]`, `is not a valid public key: ${problem}`);
    }
    // The project's admission reads run beside the checks below (one wait instead of two); a refusal
    // of theirs still surfaces where the admission is, after the checks and the volume claims.
    const admission = readVmAdmission(this.aggregates, this.readModels, project);
    admission.catch(() => undefined); // awaited below unless a check refuses first
    const catalogImage = body.image ? await this.catalogImage(body.image) : undefined;
    if (body.hostId) {
      // Cached if known (a cached host exists: its stream has events); a host not cached is read.
      const host = await this.hostState(body.hostId, true);
      if (!host.exists) throw new NotFoundException(`hostId: host ${body.hostId} not found`);
      // Known up front for a pinned host: an image outside its catalog is refused before any event
      // (the worker checks again on its own machine, symlinks resolved, for every placement).
      const refusal =
        body.image && !catalogImage
          ? this.capabilities.imageRefusal({ id: body.hostId, driver: host.driver, uri: host.uri }, body.image)
          : undefined;
      if (refusal) throw badField('image', `is refused: ${refusal}`);
      if (catalogImage) checkImageFitsDriver(catalogImage, host.driver);
    }
    await this.mustFitSomeHost(body);
    const placement = await this.placement.check(body);
    const networkIds = (body.nics ?? []).map((n) => n.networkId);
    await checkNetworks(this.aggregates, networkIds);
    const vmId = randomUUID();
    const operationId = randomUUID();
    const meta = { principal: ctx.principal.id, correlationId: operationId, causationId: `http:${operationId}` };
    // Volumes pin the VM to their host; they are claimed for it before the create is recorded.
    const claimed = body.volumes?.length
      ? await claimForCreate(
          this.aggregates,
          { volumeIds: body.volumes, vmId, operationId, project, hostId: body.hostId ?? null },
          (p) => mayUse(ctx.principal, p),
          meta,
        )
      : undefined;
    const pinned = claimed?.hostId ?? body.hostId;
    const { vcpus, memoryMiB, diskGiB } = body;
    let revision: bigint | undefined;
    try {
      await admitVm(
        this.aggregates,
        this.readModels,
        project,
        vmId,
        { vcpus, memoryMiB, diskGiB },
        meta,
        () => this.clock.now(),
        await admission,
      );
      // After the quota admission: a refused quota leaves no group member behind (a refused group only an in-flight quota count).
      const hostId = await this.placement.admit(
        { ...body, ...(pinned ? { hostId: pinned } : {}) },
        placement,
        vmId,
        project,
        meta,
      );
      // Addresses before the VM's first event, so the spec the hosts get carries them (see network-admission.ts).
      const nics = await allocateNics(this.aggregates, vmId, project, networkIds, ctx.principal.id, operationId, () =>
        this.clock.now(),
      );
      ({ revision } = await this.run(
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
            ...ceilings,
            ...(body.image ? { image: body.image } : {}),
            ...(catalogImage ? { catalogImage } : {}),
            ...(body.userData !== undefined ? { userData: body.userData } : {}),
            ...(body.sshKeys?.length ? { sshKeys: body.sshKeys } : {}),
            ...placement,
            ...(nics.length ? { nics } : {}),
            ...(claimed ? { volumes: claimed.volumes } : {}),
          },
          hostId: hostId ?? null,
          start: body.start ?? true,
          project,
          ...(body.restartPolicy ? { restartPolicy: body.restartPolicy } : {}),
        },
        ctx,
      ).catch((err: unknown) =>
        releaseUnlessRecorded(this.aggregates, vmId, networkIds, ctx.principal.id, operationId, err),
      ));
    } catch (err) {
      // Refused after the claims (quota, placement group, addresses, a race): the volumes are free again.
      if (claimed) {
        const ids = claimed.volumes.map((v) => v.volumeId);
        await releaseClaims(this.aggregates, ids, vmId, operationId, 'the create was refused', meta);
      }
      throw err;
    }
    return { operationId, vmId, revision };
  }

  /**
   * A plain name (no "/", no "kernel:") names a catalog image: one that does not exist is refused
   * here, before any event, whatever the host. `busybox` without a catalog image of that name
   * keeps meaning the container driver's generated root filesystem. Paths and `kernel:<dir>`
   * still name files in a host's own images dirs (checked against a pinned host below).
   */
  private async catalogImage(image: string): Promise<CatalogImageRef | undefined> {
    if (image.includes('/') || image.startsWith('kernel:')) return undefined;
    const { state } = await this.aggregates.load(imageDecider, imageStream(image));
    if (state.exists && state.format) return { name: image, format: state.format, sha256: state.sha256 };
    if (image === 'busybox') return undefined;
    throw badField(
      'image',
      `names no image in the catalog: ${JSON.stringify(image)} (GET /v1/images lists them; PUT /v1/images/{name} uploads one)`,
    );
  }

  /** Lifecycle and snapshot verbs: the command is built against the VM's current host capabilities. */
  async act(
    vmId: string,
    build: (operationId: string, caps: CapabilityView, state: VmState) => OpCommand | Promise<OpCommand>,
    ctx: CommandContext,
    reserve?: (cmd: OpCommand) => Reservation | undefined,
  ): Promise<Accepted> {
    const state = await this.vmState(vmId, ctx.principal);
    const { capabilities } = await this.capabilitiesOf(state.hostId);
    const operationId = randomUUID();
    const cmd = await build(operationId, capabilities, state);
    const { revision } = await this.run(vmId, cmd, ctx, reserve?.(cmd));
    return { operationId, vmId, revision };
  }

  /** Without targetHostId placement picks (an active host of the same driver with room, most free memory, keeping the VM's hostSelector and group). */
  async migrate(
    vmId: string,
    targetHostId: string | undefined,
    live: boolean,
    ctx: CommandContext,
    hostSelector?: Record<string, string>,
  ): Promise<Accepted> {
    return this.act(
      vmId,
      async (operationId, caps, state) => {
        const meta = { principal: ctx.principal.id, correlationId: operationId, causationId: `http:${operationId}` };
        // Without a target, placement ranks every host (selector, group rule, room) and a refusal names each.
        if (!targetHostId)
          targetHostId = await this.placement.migrationTarget(
            state,
            await this.hostState(state.hostId ?? ''),
            hostSelector,
            meta,
          );
        else if (state.spec?.placementGroupId) await this.placement.checkTarget(state, targetHostId, meta);
        const target = await this.hostState(targetHostId);
        if (!target.exists) throw new NotFoundException(`targetHostId: host ${targetHostId} not found`);
        const source = await this.capabilitiesOf(state.hostId);
        const blocked = volumesBlockMove(source.driver, state.spec?.volumes);
        if (blocked) throw new DomainError('conflict', `VM ${vmId} has ${blocked}`);
        const from = await this.hostState(state.hostId ?? '');
        return {
          type: 'MigrateVm',
          operationId,
          targetHostId,
          live,
          source: { driver: source.driver, capabilities: caps },
          target: { driver: target.driver, capabilities: this.declared(target) },
          internalSnapshotsTravel: internalSnapshotsTravel(from, target),
          hotplugLayoutTravels: hotplugLayoutTravels(from, target),
        };
      },
      ctx,
      // The target's reservation (the migration saga's first action) goes in the request's commit.
      (cmd) => {
        if (cmd.type !== 'MigrateVm') return undefined;
        const operationId = cmd.operationId;
        return {
          hostId: cmd.targetHostId,
          command: ({ spec }) => ({
            type: 'ReserveCapacity',
            vmId,
            operationId,
            // No spec: the VM was never created, and the request is refused (nothing is appended).
            vcpus: spec?.vcpus ?? 0,
            memoryMiB: spec?.memoryMiB ?? 0,
            ...(spec?.diskGiB !== undefined ? { diskGiB: spec.diskGiB } : {}),
          }),
        };
      },
    );
  }
}

export type { DiffBound, VmDiff } from './vm-history.service.js';
