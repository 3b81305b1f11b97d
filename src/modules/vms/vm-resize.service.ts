import { BadRequestException, Inject, Injectable, NotFoundException } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { handleCommand, PreconditionFailedError } from '../../application/handle-command.js';
import { admitVm } from '../../application/project-admission.js';
import { mayUse } from '../../http/auth/project-scope.js';
import type { AggregateLoader } from '../../application/load-aggregate.js';
import { errorBody } from '../../http/error-body.js';
import { hostStream, vmStream } from '../../domain/streams.js';
import type { ReadModels } from '../../projections/read-models.js';
import { AGGREGATES, CLOCK, READ_MODELS, type Clock } from '../../http/tokens.js';
import { hostDecider } from '../../domain/host/host.decider.js';
import type { VmCommand } from '../../domain/vm/vm.commands.js';
import { vmDecider } from '../../domain/vm/vm.decider.js';
import { vmProject } from '../../domain/vm/vm.state.js';
import type { RestartPolicy, VmSize } from '../../domain/vm/vm.types.js';
import { VmsService, type Accepted, type CommandContext } from './vms.service.js';

/**
 * PATCH /v1/vms/{id}: size and restart policy. A resize is decided on the VM first without
 * appending; then the growth is admitted against the project's quotas and the host's reservation
 * changed (refused with the numbers when it does not fit); then the VM's event is appended at the
 * revision the client saw (If-Match). Should that append lose a race, the reservation is put back.
 * Cold (stopped): VmResized, applied by the driver at the next start. Live (running): VmResizeStarted,
 * a `resize` operation the host's worker carries out; meanwhile the host holds the larger of the
 * old and new size per dimension, and the saga sets it to the size the VM ends with.
 */
@Injectable()
export class VmResizeService {
  constructor(
    @Inject(AGGREGATES) private readonly aggregates: AggregateLoader,
    @Inject(READ_MODELS) private readonly readModels: ReadModels,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly vms: VmsService,
  ) {}

  /** PATCH {restartPolicy}: recorded at once (VmRestartPolicyChanged), in any state; If-Match as for a resize. */
  async setRestartPolicy(vmId: string, policy: RestartPolicy, ctx: CommandContext): Promise<bigint | undefined> {
    const { state, revision } = await this.aggregates.load(vmDecider, vmStream(vmId));
    if (!state.exists || !mayUse(ctx.principal, vmProject(state))) throw new NotFoundException(`VM ${vmId} not found`);
    if (ctx.ifMatch !== undefined && ctx.ifMatch !== revision) throw new PreconditionFailedError(ctx.ifMatch, revision);
    const operationId = randomUUID();
    return (await this.vms.run(vmId, { type: 'SetRestartPolicy', operationId, policy, by: ctx.principal.id }, ctx))
      .revision;
  }

  async resize(
    vmId: string,
    size: { vcpus?: number; memoryMiB?: number; diskGiB?: number },
    ctx: CommandContext,
  ): Promise<Accepted & { changed: boolean }> {
    const { state, revision } = await this.aggregates.load(vmDecider, vmStream(vmId));
    // Another project's VM reads as a missing one, before anything about the request is judged.
    if (!state.exists || !mayUse(ctx.principal, vmProject(state))) throw new NotFoundException(`VM ${vmId} not found`);
    if (ctx.ifMatch === undefined)
      throw new BadRequestException(
        errorBody(400, 'If-Match: required (the ETag of GET /v1/vms/{id})', [
          { field: 'If-Match', errors: ['If-Match is required'] },
        ]),
      );
    // A stale ETag must not touch the host's reservation at all.
    if (ctx.ifMatch !== revision) throw new PreconditionFailedError(ctx.ifMatch, revision);
    const operationId = randomUUID();
    // A running VM is resized live: what its host's driver can do decides what is refused up front.
    const live = state.state === 'running';
    const capabilities = live ? (await this.vms.capabilitiesOf(state.hostId)).capabilities : undefined;
    const cmd: VmCommand & { operationId: string } = {
      type: 'ResizeVm',
      operationId,
      ...size,
      ...(capabilities ? { capabilities } : {}),
    };
    const decided = vmDecider.decide(cmd, state)[0];
    let to: VmSize;
    if (decided?.type === 'VmResized') to = decided.data;
    else if (decided?.type === 'VmResizeStarted') to = decided.data.to;
    else return { operationId, vmId, changed: false };
    const old = state.spec!;
    const meta = {
      principal: ctx.principal.id,
      correlationId: operationId,
      causationId: `http:${operationId}`,
      ...(ctx.reason ? { reason: ctx.reason } : {}),
    };
    const hostId = state.hostId;
    const reserve = (vcpus: number, memoryMiB: number) =>
      hostId
        ? handleCommand(
            this.aggregates,
            hostDecider,
            hostStream(hostId),
            { type: 'ResizeReservation', vmId, operationId, vcpus, memoryMiB },
            meta,
            { now: () => this.clock.now() },
          )
        : Promise.resolve(undefined);
    // Growth is admitted against the project's quotas like a create (nothing is appended when refused).
    // Keyed by the operation, the admission counts beside the VM's old size until it leaves the
    // in-flight window: conservative for that minute, never short.
    const grow = {
      vcpus: Math.max(0, to.vcpus - old.vcpus),
      memoryMiB: Math.max(0, to.memoryMiB - old.memoryMiB),
      diskGiB: Math.max(0, to.diskGiB - old.diskGiB),
    };
    if (grow.vcpus + grow.memoryMiB + grow.diskGiB > 0)
      await admitVm(
        this.aggregates,
        this.readModels,
        vmProject(state),
        `${vmId}/resize/${operationId}`,
        grow,
        meta,
        () => this.clock.now(),
      );
    // Live, the VM may run at either size until the worker answers: the host holds the larger of each.
    if (decided.type === 'VmResizeStarted')
      await reserve(Math.max(old.vcpus, to.vcpus), Math.max(old.memoryMiB, to.memoryMiB));
    else await reserve(to.vcpus, to.memoryMiB);
    let after: bigint | undefined;
    try {
      after = (await this.vms.run(vmId, cmd, ctx)).revision;
    } catch (err) {
      await reserve(old.vcpus, old.memoryMiB).catch(() => undefined);
      throw err;
    }
    return { operationId, vmId, revision: after, changed: true };
  }
}
