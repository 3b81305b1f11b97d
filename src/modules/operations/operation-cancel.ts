import { BadRequestException, ConflictException, Inject, Injectable, NotFoundException } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { handleCommand } from '../../application/handle-command.js';
import type { AggregateLoader } from '../../application/load-aggregate.js';
import { vmStream } from '../../domain/streams.js';
import { vmDecider } from '../../domain/vm/vm.decider.js';
import type { Principal } from '../../http/auth/roles.js';
import {
  ABORTS,
  AGGREGATES,
  CLOCK,
  PROJECTIONS,
  READ_MODELS,
  type Clock,
  type OperationAbortPort,
  type ProjectionControl,
} from '../../http/tokens.js';
import { ENDED_STATUSES, type OperationView } from '../../projections/read-model.types.js';
import type { ReadModels } from '../../projections/read-models.js';
import { operationVisible } from './operation-scope.js';

/**
 * DELETE /v1/operations/{id}: records the cancel on the VM's stream (the decider says whether the
 * operation is still in flight), then tells the worker running it to abort its driver call. The
 * step's compensation follows from the recorded event like a failure's, so the VM ends where the
 * decider says. A migration before its hand-off records only that a cancel was asked: QEMU
 * decides (cancelled, or completed too late) and the step's result closes the operation; after
 * the hand-off it is refused (409) by the decider.
 */
@Injectable()
export class OperationCancel {
  constructor(
    @Inject(AGGREGATES) private readonly aggregates: AggregateLoader,
    @Inject(READ_MODELS) private readonly readModels: ReadModels,
    @Inject(PROJECTIONS) private readonly projections: ProjectionControl,
    @Inject(ABORTS) private readonly aborts: OperationAbortPort,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  private async visible(id: string, p: Principal): Promise<OperationView | undefined> {
    const op = await this.readModels.getOperation(id);
    // Another project's operation reads exactly as a missing one.
    return op && (await operationVisible(p, op, this.readModels)) ? op : undefined;
  }

  async cancel(id: string, p: Principal, reason: string | undefined): Promise<OperationView> {
    if (reason !== undefined && reason.length > 500) throw new BadRequestException('reason: at most 500 characters');
    const op = await this.visible(id, p);
    if (!op) throw new NotFoundException(`operation ${id} not found`);
    if (ENDED_STATUSES.has(op.status))
      throw new ConflictException(`operation ${id} is already ${op.status}; nothing to cancel`);
    if (!op.vmId) throw new ConflictException(`operation ${id} (${op.kind}) cannot be cancelled`);
    const result = await handleCommand(
      this.aggregates,
      vmDecider,
      vmStream(op.vmId),
      { type: 'CancelOperation', operationId: id, by: p.id, ...(reason ? { reason } : {}) },
      {
        principal: p.id,
        correlationId: id,
        causationId: `http:cancel:${randomUUID()}`,
        ...(reason ? { reason } : {}),
      },
      { now: () => this.clock.now() },
    );
    const last = result.events[result.events.length - 1];
    // A migration whose cancel was asked already: ask the worker again (harmless), answer as it stands.
    if (!last && op.kind === 'migrate' && op.cancelRequested && !ENDED_STATUSES.has(op.status)) {
      await this.aborts.abort(id);
      return op;
    }
    if (!last) {
      // It finished between the read above and the decision: answer what it finished as.
      const now = await this.visible(id, p);
      throw new ConflictException(
        `operation ${id} is already ${now && ENDED_STATUSES.has(now.status) ? now.status : 'done'}; nothing to cancel`,
      );
    }
    await this.aborts.abort(id);
    await this.projections.waitForEvent(last, 3000, ['vms']);
    return (await this.visible(id, p)) ?? op;
  }
}
