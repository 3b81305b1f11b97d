import { Controller, Get, Inject, NotFoundException, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiQuery, ApiTags } from '@nestjs/swagger';
import { ApiAnswer } from '../../http/openapi/decorators.js';
import { Roles } from '../../http/auth/roles.js';
import { parseLimit } from '../../http/query.js';
import { QUEUES, READ_MODELS, type QueueStats } from '../../http/tokens.js';
import type { ReadModels } from '../../projections/read-models.js';

/**
 * The hosts' BullMQ queues as the people who run workers need them: how many
 * jobs wait, run, are delayed or failed, and why the failed ones failed.
 * Operators and admins only: job data names VMs of every project.
 */
@ApiTags('queues')
@ApiBearerAuth()
@Controller('v1/queues')
export class QueuesController {
  constructor(
    @Inject(QUEUES) private readonly queues: QueueStats,
    @Inject(READ_MODELS) private readonly readModels: ReadModels,
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

  @ApiAnswer("A host queue's failed jobs, newest first, with their error and attempts", Object)
  @ApiQuery({ name: 'limit', required: false, description: 'at most this many (default 50)' })
  @Get(':host/failed')
  @Roles('operator')
  async failed(@Param('host') host: string, @Query('limit') limit?: string) {
    const rec = await this.readModels.getHost(host);
    if (!rec || rec.state.removed) throw new NotFoundException(`host ${host} not found`);
    return { hostId: host, items: await this.queues.failed(host, parseLimit(limit, 'limit', 1000, 50)), next: null };
  }
}
