import {
  Controller,
  Get,
  Headers,
  Inject,
  NotFoundException,
  Param,
  ParseUUIDPipe,
  Query,
  Req,
  Res,
} from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOperation, ApiProduces, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ApiAnswer } from '../../http/openapi/decorators.js';
import { EventPage } from './dto/event.response.js';
import type { Request, Response } from 'express';
import { vmStream } from '../../domain/streams.js';
import { StreamNotFoundError } from '../../eventstore/errors.js';
import type { EventStore, RecordedEvent } from '../../eventstore/event-store.port.js';
import { parseLimit, parsePosition, parseRevision } from '../../http/query.js';
import type { Logger } from 'pino';
import { EVENT_STORE, LOGGER, READ_MODELS } from '../../http/tokens.js';
import { AUDITORS, Roles, type Principal } from '../../http/auth/roles.js';
import { CurrentPrincipal } from '../../http/auth/principal.decorator.js';
import type { ReadModels } from '../../projections/read-models.js';
import { eventScope } from './event-scope.js';
import { DEFAULT_PROJECT } from '../../domain/project/project.types.js';
import { mayUse } from '../../http/auth/project-scope.js';
import { SseLimiter } from './sse-limit.js';
import { parseEventFilter, readFilteredPage } from './event-filter.js';
import { toEventView } from './event.view.js';
import { SSE_DEFAULTS, streamEvents } from './sse.js';
import { parseSseFilter, sseStartAfter } from './sse-filter.js';

@ApiTags('events')
@ApiBearerAuth()
@Controller('v1')
export class EventsController {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(LOGGER) private readonly log: Logger,
    @Inject(READ_MODELS) private readonly readModels: ReadModels,
    private readonly sseLimiter: SseLimiter,
  ) {}

  @ApiAnswer("A VM's events, oldest first", EventPage)
  @ApiQuery({
    name: 'fromRevision',
    required: false,
    description: 'First revision to return',
    schema: { type: 'integer', minimum: 0 },
  })
  @ApiQuery({ name: 'limit', required: false, schema: { type: 'integer', minimum: 1, maximum: 1000, default: 1000 } })
  @Get('vms/:id/events')
  @Roles('operator', ...AUDITORS)
  async vmEvents(
    @Param('id', new ParseUUIDPipe({ version: '4', exceptionFactory: () => new NotFoundException('VM not found') }))
    id: string,
    @CurrentPrincipal() p: Principal,
    @Query('fromRevision') fromRevision?: string,
    @Query('limit') limitRaw?: string,
  ) {
    const limit = parseLimit(limitRaw, 'limit', 1000, 1000);
    const from = fromRevision === undefined ? 0n : parseRevision(fromRevision, 'fromRevision');
    try {
      // Another project's VM answers exactly as a missing one; its first event names the project.
      const [first] = await this.store.readStream(vmStream(id), { maxCount: 1 });
      const project = (first?.data as { project?: string } | undefined)?.project ?? DEFAULT_PROJECT;
      if (!mayUse(p, project)) throw new NotFoundException(`VM ${id} not found`);
      const events = await this.store.readStream(vmStream(id), { fromRevision: from, maxCount: limit + 1 });
      const more = events.length > limit;
      const page = events.slice(0, limit);
      return { items: page.map(toEventView), next: more ? String(Number(page[page.length - 1]!.revision) + 1) : null };
    } catch (err) {
      if (err instanceof StreamNotFoundError) throw new NotFoundException(`VM ${id} not found`);
      throw err;
    }
  }

  /**
   * The global log, paged and filtered: `fromPosition` is inclusive; `next` is the
   * fromPosition of the next page (a position, so pages never skip or repeat an event).
   */
  @ApiAnswer('The global log, paged and filtered', EventPage)
  @ApiQuery({
    name: 'fromPosition',
    required: false,
    description: 'First position (inclusive)',
    schema: { type: 'string', pattern: '^\\d{1,20}$' },
  })
  @ApiQuery({ name: 'limit', required: false, schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } })
  @Get('events')
  @Roles(...AUDITORS)
  async events(
    @CurrentPrincipal() p: Principal,
    @Query('fromPosition') fromRaw?: string,
    @Query('limit') limitRaw?: string,
    @Query('vmId') vmId?: string,
    @Query('hostId') hostId?: string,
    @Query('type') type?: string,
    @Query('principal') principal?: string,
    @Query('correlationId') correlationId?: string,
    @Query('since') since?: string,
    @Query('until') until?: string,
  ) {
    const limit = parseLimit(limitRaw, 'limit', 1000, 100);
    const from = parsePosition(fromRaw, 'fromPosition');
    const filter = parseEventFilter({
      ...(vmId !== undefined ? { vmId } : {}),
      ...(hostId !== undefined ? { hostId } : {}),
      ...(type !== undefined ? { type } : {}),
      ...(principal !== undefined ? { principal } : {}),
      ...(correlationId !== undefined ? { correlationId } : {}),
      ...(since !== undefined ? { since } : {}),
      ...(until !== undefined ? { until } : {}),
    });
    const page = await readFilteredPage(this.store, filter, from, limit);
    // Scoped callers get a page of the events they may see (possibly fewer than limit; next still resumes right).
    const scope = eventScope(p, this.readModels);
    const items = scope ? await filterAsync(page.items, scope) : page.items;
    return { items: items.map(toEventView), next: page.next === null ? null : page.next.toString() };
  }

  /**
   * Live feed (SSE): resumes after Last-Event-ID (or from fromPosition; `end` for
   * only new events) with no gap and no duplicate; `?vmId=` and `?type=` narrow it.
   */
  @ApiOperation({ summary: 'Live feed of the log (Server-Sent Events), resumable' })
  @ApiProduces('text/event-stream')
  @ApiResponse({
    status: 200,
    description: 'One SSE event per log event: id = position, data = the event as in GET /v1/events',
    content: { 'text/event-stream': { schema: { type: 'string' } } },
  })
  @ApiHeader({
    name: 'Last-Event-ID',
    required: false,
    description: 'Resume after this position (set by EventSource on reconnect)',
  })
  @Get('events/stream')
  @Roles(...AUDITORS)
  @ApiQuery({ name: 'fromPosition', required: false, description: 'a position, or `end` for only new events' })
  @ApiQuery({ name: 'vmId', required: false, description: "only this VM's events" })
  @ApiQuery({ name: 'type', required: false, description: 'only these event types (comma list)' })
  async stream(
    @CurrentPrincipal() p: Principal,
    @Req() req: Request,
    @Res() res: Response,
    @Query('fromPosition') fromRaw?: string,
    @Headers('last-event-id') lastEventId?: string,
    @Query('vmId') vmId?: string,
    @Query('type') type?: string,
  ): Promise<void> {
    const filter = parseSseFilter({ vmId, type });
    const after = await sseStartAfter(this.store, lastEventId, fromRaw);
    // Counted only once the request is valid; the slot is freed when the feed closes.
    const release = this.sseLimiter.acquire(p.id);
    res.once('close', release);
    const scope = eventScope(p, this.readModels);
    const keep =
      scope || filter ? async (e: RecordedEvent) => (!filter || filter(e)) && (!scope || (await scope(e))) : undefined;
    streamEvents(this.store, req, res, after, this.log, { ...SSE_DEFAULTS, ...(keep ? { keep } : {}) });
  }
}

async function filterAsync<T>(items: T[], keep: (item: T) => Promise<boolean>): Promise<T[]> {
  const out: T[] = [];
  for (const item of items) if (await keep(item)) out.push(item);
  return out;
}
