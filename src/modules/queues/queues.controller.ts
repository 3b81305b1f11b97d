import {
  BadRequestException,
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Inject,
  Param,
  Post,
  Query,
} from '@nestjs/common';
import { ApiBearerAuth, ApiQuery, ApiTags } from '@nestjs/swagger';
import { ApiAnswer } from '../../http/openapi/decorators.js';
import { CurrentPrincipal } from '../../http/auth/principal.decorator.js';
import { MUTATORS, Roles, type Principal } from '../../http/auth/roles.js';
import { ReasonDto } from '../../http/reason.dto.js';
import { FailedJobPage, QueueActionResponse } from './dto/queue-job.response.js';
import { DeadResultActionResponse, DeadResultPage, ResultCountsResponse } from './dto/dead-result.response.js';
import { DeadResultsService } from './dead-results.service.js';
import { QueueActionsService } from './queue-actions.service.js';
import { parseLimit } from '../../http/query.js';
import { QUEUES, READ_MODELS, type QueueStats } from '../../http/tokens.js';
import type { ReadModels } from '../../projections/read-models.js';

/**
 * The hosts' BullMQ queues as the people who run workers need them: how many
 * jobs wait, run, are delayed or failed, and why the failed ones failed.
 * Operators and admins only; a principal of some projects sees (and may act on) only the failed
 * jobs of its projects' VMs, the results stream not at all.
 */
@ApiTags('queues')
@ApiBearerAuth()
@Controller('v1/queues')
export class QueuesController {
  constructor(
    @Inject(QUEUES) private readonly queues: QueueStats,
    @Inject(READ_MODELS) private readonly readModels: ReadModels,
    private readonly actions: QueueActionsService,
    private readonly deadResults: DeadResultsService,
  ) {}

  @ApiAnswer("Every registered host's queue: waiting, active, delayed, prioritized and failed job counts", Object)
  @Get()
  @Roles('operator')
  async list() {
    const hosts = (await this.readModels.listHosts()).filter((h) => !h.state.removed);
    const items = await Promise.all(
      hosts.map(async (h) => ({
        hostId: h.state.id ?? '',
        hostName: h.state.name,
        ...(await this.queues.counts(h.state.id ?? '')),
      })),
    );
    return { items, next: null };
  }

  @ApiAnswer(
    'The results stream workers post to: results pending (read, not acknowledged), waiting (not read) and dead-lettered',
    ResultCountsResponse,
  )
  @Get('results')
  @Roles('operator')
  resultCounts(@CurrentPrincipal() p: Principal): Promise<ResultCountsResponse> {
    this.deadResults.mustSeeAll(p);
    return this.queues.resultCounts();
  }

  @ApiAnswer(
    'Results the control plane gave up recording after every delivery, oldest first, with the last reason',
    DeadResultPage,
  )
  @ApiQuery({ name: 'limit', required: false, description: 'at most this many (default 50)' })
  @Get('results/dead')
  @Roles('operator')
  async deadResultList(@CurrentPrincipal() p: Principal, @Query('limit') limit?: string): Promise<DeadResultPage> {
    return { items: await this.deadResults.list(parseLimit(limit, 'limit', 1000, 50), p), next: null };
  }

  /** Back on the results stream once the cause is fixed; a result the log already holds records nothing. */
  @ApiAnswer('Put a dead-lettered result back on the results stream (recorded at most once)', DeadResultActionResponse)
  @Post('results/dead/:id/retry')
  @HttpCode(200)
  @Roles(...MUTATORS)
  retryResult(
    @Param('id') id: string,
    @Body() body: ReasonDto,
    @CurrentPrincipal() p: Principal,
  ): Promise<DeadResultActionResponse> {
    return this.deadResults.retry(id, p, body.reason);
  }

  @ApiAnswer('Delete a dead-lettered result for good', DeadResultActionResponse)
  @ApiQuery({ name: 'reason', required: false, description: 'Why (logged with the discard, at most 500 characters)' })
  @Delete('results/dead/:id')
  @Roles(...MUTATORS)
  discardResult(
    @Param('id') id: string,
    @CurrentPrincipal() p: Principal,
    @Query('reason') reason?: string,
  ): Promise<DeadResultActionResponse> {
    if (reason !== undefined && reason.length > 500) throw new BadRequestException('reason: at most 500 characters');
    return this.deadResults.discard(id, p, reason);
  }

  @ApiAnswer("A host queue's failed jobs, newest first, with their error and attempts", FailedJobPage)
  @ApiQuery({ name: 'limit', required: false, description: 'at most this many (default 50)' })
  @Get(':host/failed')
  @Roles('operator')
  async failed(@Param('host') host: string, @CurrentPrincipal() p: Principal, @Query('limit') limit?: string) {
    const items = await this.actions.failed(host, parseLimit(limit, 'limit', 1000, 50), p);
    return { hostId: host, items, next: null };
  }

  /** Put a failed job back to waiting; its operation, still in flight in the log, goes on. Recorded first. */
  @ApiAnswer('Retry a failed job (recorded on the host stream with who and why)', QueueActionResponse)
  @Post(':host/failed/:job/retry')
  @HttpCode(200)
  @Roles(...MUTATORS)
  retry(
    @Param('host') host: string,
    @Param('job') job: string,
    @Body() body: ReasonDto,
    @CurrentPrincipal() p: Principal,
  ): Promise<QueueActionResponse> {
    return this.actions.retry(host, job, p, body.reason);
  }

  /** Give a failed job up: it is removed and its operation fails (compensation runs). Recorded first. */
  @ApiAnswer('Discard a failed job; its operation fails with the reason', QueueActionResponse)
  @ApiQuery({ name: 'reason', required: false, description: 'Why (kept with the discard, at most 500 characters)' })
  @Delete(':host/failed/:job')
  @Roles(...MUTATORS)
  discard(
    @Param('host') host: string,
    @Param('job') job: string,
    @CurrentPrincipal() p: Principal,
    @Query('reason') reason?: string,
  ): Promise<QueueActionResponse> {
    if (reason !== undefined && reason.length > 500) throw new BadRequestException('reason: at most 500 characters');
    return this.actions.discard(host, job, p, reason);
  }
}
