import {
  Controller,
  Delete,
  Get,
  Inject,
  NotFoundException,
  Param,
  Query,
  Res,
  ServiceUnavailableException,
} from '@nestjs/common';
import { ApiBearerAuth, ApiQuery, ApiTags } from '@nestjs/swagger';
import { ApiAnswer, ApiPage } from '../../http/openapi/decorators.js';
import { OperationPage, OperationResponse } from './dto/operation.response.js';
import type { Response } from 'express';
import { parseCursor, parseLimit, parseWaitMs } from '../../http/query.js';
import type { AppConfig } from '../../config/config.js';
import type { EventStore } from '../../eventstore/event-store.port.js';
import type { ReadModels } from '../../projections/read-models.js';
import {
  CONFIG,
  EVENT_STORE,
  PROJECTIONS,
  READ_MODELS,
  READ_YOUR_WRITES,
  type ProjectionControl,
} from '../../http/tokens.js';
import type { ReadYourWrites } from '../../http/read-your-writes.js';
import { MUTATORS, READERS, Roles, type Principal } from '../../http/auth/roles.js';
import { OperationCancel } from './operation-cancel.js';
import { CurrentPrincipal } from '../../http/auth/principal.decorator.js';
import { operationVisible } from './operation-scope.js';
import { ENDED_STATUSES, type OperationView } from '../../projections/read-model.types.js';
import { parseOperationListFilter } from './operation-list.query.js';
import { settledProgress } from './operation-progress.js';

@ApiTags('operations')
@ApiBearerAuth()
@Controller('v1/operations')
export class OperationsController {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(READ_MODELS) private readonly readModels: ReadModels,
    @Inject(PROJECTIONS) private readonly projections: ProjectionControl,
    @Inject(CONFIG) private readonly config: AppConfig,
    private readonly canceller: OperationCancel,
    @Inject(READ_YOUR_WRITES) private readonly ryw: ReadYourWrites,
  ) {}

  /**
   * Cancel an operation in flight: its driver call is aborted, the step compensated, and the
   * operation recorded `cancelled` with who asked and why. 409 when it has already finished.
   * A migration before its hand-off answers with `cancelRequested` set: QEMU decides, and the
   * operation then ends `cancelled`, or `succeeded` when the migration had already completed.
   */
  @ApiAnswer('Cancel an operation in flight', OperationResponse)
  @ApiQuery({ name: 'reason', required: false, description: 'Why (kept with the cancel, at most 500 characters)' })
  @Delete(':id')
  @Roles(...MUTATORS)
  async cancel(
    @Param('id') id: string,
    @CurrentPrincipal() p: Principal,
    @Query('reason') reason?: string,
  ): Promise<OperationView> {
    return settledProgress(await this.canceller.cancel(id, p, reason));
  }

  /** Newest first; `?status=` and `?kind=` take comma lists. */
  @ApiAnswer('List operations', OperationPage)
  @ApiPage()
  @ApiQuery({ name: 'vmId', required: false, description: 'Only those of this VM' })
  @ApiQuery({ name: 'principal', required: false, description: 'Only those this principal started' })
  @Get()
  @Roles(...READERS)
  @ApiQuery({
    name: 'status',
    required: false,
    description: 'pending, running, succeeded, failed, cancelled (comma list)',
  })
  @ApiQuery({ name: 'kind', required: false, description: 'operation kinds, e.g. migrate,delete (comma list)' })
  async list(
    @CurrentPrincipal() p: Principal,
    @Query('vmId') vmId?: string,
    @Query('principal') principal?: string,
    @Query('cursor') cursor?: string,
    @Query('limit') limit?: string,
    @Query('status') status?: string,
    @Query('kind') kind?: string,
  ) {
    const page = await this.readModels.listOperations(
      parseOperationListFilter({ vmId, principal, status, kind }),
      parseCursor(cursor),
      parseLimit(limit),
      (op) => operationVisible(p, op, this.readModels),
    );
    return { ...page, items: page.items.map(settledProgress) };
  }

  /** `?waitMs=` long-polls until the operation is done (or the wait is over), then answers its state. */
  @ApiAnswer('Read an operation (optionally waiting until it is done)', OperationResponse)
  @ApiQuery({
    name: 'waitMs',
    required: false,
    description: 'Long-poll: wait up to this long for the operation to finish',
    schema: { type: 'integer', minimum: 0, maximum: 60000, default: 0 },
  })
  @Get(':id')
  @Roles(...READERS)
  async get(
    @Param('id') id: string,
    @CurrentPrincipal() p: Principal,
    @Res({ passthrough: true }) res: Response,
    @Query('waitMs') waitMsRaw?: string,
  ): Promise<OperationView> {
    const waitMs = parseWaitMs(waitMsRaw);
    const deadline = Date.now() + waitMs;
    // Another project's operation reads exactly as a missing one, waits included.
    const visible = async (op: OperationView | undefined) =>
      op && (await operationVisible(p, op, this.readModels)) ? op : undefined;
    // A command this process accepted shows in its operation before this answers (read-your-writes).
    const shown = await this.ryw.operation(id);
    let op =
      (await visible(await this.readModels.getOperation(id))) ??
      (await visible(shown ? await this.afterCatchUp(id, res) : this.behind(id, res, this.ryw.waitMs)));
    while (waitMs > 0 && (!op || !ENDED_STATUSES.has(op.status)) && Date.now() < deadline) {
      await this.nextChange(deadline - Date.now(), op?.vmId);
      // Woken by the operation's last event: what the projection just committed, without reading it back.
      op = await visible(this.projections.endedOperation?.(id) ?? (await this.readModels.getOperation(id)));
    }
    if (!op) throw new NotFoundException(`operation ${id} not found`);
    return settledProgress(await this.withLiveProgress(op));
  }

  /**
   * A 202 names an operation the read model may not show yet when projections
   * lag under load; a client polling it must not get a 404 for an operation
   * that exists, so an unknown id waits until the read model has applied the
   * log's head (READ_MODEL_WAIT_MS), and is a 503 with Retry-After if it has not by
   * then. An id that is really unknown costs one head read once caught up.
   */
  private async afterCatchUp(id: string, res: Response): Promise<OperationView | undefined> {
    const head = await this.store.headPosition();
    if (head === undefined) return undefined;
    const waitMs = this.config.readModelWaitMs;
    if (!(await this.projections.waitFor(head, waitMs, ['vms']))) {
      const op = await this.readModels.getOperation(id);
      return op ?? this.behind(id, res, waitMs);
    }
    return this.readModels.getOperation(id);
  }

  /** Behind the log there is no telling "not yet" from "never": a 404 here could be false. */
  private behind(id: string, res: Response, waitMs: number): never {
    res.setHeader('Retry-After', '1');
    throw new ServiceUnavailableException(
      `operation ${id} is not in the read model, which has not caught up with the log within ${waitMs} ms; retry`,
    );
  }

  /** A running rebuild's events-done/total changes per batch, so it is kept beside the view, not in the log. */
  private async withLiveProgress(op: OperationView): Promise<OperationView> {
    if (op.kind !== 'rebuild' || op.status !== 'running') return op;
    const live = await this.projections.rebuildProgress(op.id);
    if (!live) return op;
    return { ...op, progress: { ...op.progress, ...live } };
  }

  /** Wakes on the next event the VM projection applies (for this VM when known), or after ms. */
  private async nextChange(ms: number, vmId?: string | null): Promise<void> {
    const wait = Math.max(0, Math.min(ms, 5000));
    await this.projections.nextApplied('vms', (e) => !vmId || e.streamId === `vm-${vmId}`, wait);
  }
}
