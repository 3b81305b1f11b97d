import {
  BadRequestException,
  Body,
  ConflictException,
  Controller,
  Get,
  Inject,
  NotFoundException,
  Param,
  Post,
  Query,
  Res,
  ServiceUnavailableException,
} from '@nestjs/common';
import type { Response } from 'express';
import { ApiBearerAuth, ApiQuery, ApiTags } from '@nestjs/swagger';
import { randomUUID } from 'node:crypto';
import { handleCommand } from '../../application/handle-command.js';
import type { AggregateLoader } from '../../application/load-aggregate.js';
import { capabilitiesOfHost, type Capabilities } from '../../application/host-capabilities.js';
import { HostDidNotAnswer, type HostQueries } from '../../application/host-queries.js';
import type { AppConfig } from '../../config/config.js';
import { hostStream } from '../../domain/streams.js';
import type { HostCapabilities } from '../../domain/host/host.events.js';
import type { EventStore } from '../../eventstore/event-store.port.js';
import { errorBody } from '../../http/error-body.js';
import { CurrentPrincipal } from '../../http/auth/principal.decorator.js';
import { READERS, Roles, type Principal } from '../../http/auth/roles.js';
import {
  AGGREGATES,
  CAPABILITIES,
  CLOCK,
  CONFIG,
  EVENT_STORE,
  FLEET_HISTORY,
  HOST_QUERIES,
  PROJECTIONS,
  READ_MODELS,
  type Clock,
  type ProjectionControl,
} from '../../http/tokens.js';
import { RegisterHostDto } from './dto/register-host.dto.js';
import { HostDomainPage, HostPage, HostResponse } from './dto/host.response.js';
import { ApiAnswer, ETAG_HEADER } from '../../http/openapi/decorators.js';
import { checkLabels } from '../../http/labels.js';
import { hostDecider } from '../../domain/host/host.decider.js';
import { hostViewAt } from './host-history.js';
import { hostListAt } from './hosts-at.js';
import { FLEET_AT_DOC, fleetAt, parseFleetAt } from '../../http/fleet-point.js';
import type { FleetHistory } from '../../projections/fleet-history.js';
import { AT_DOC, parseAsOf, REVISION_DOC } from '../../http/as-of.query.js';
import { toHostView, type HostView } from './host.view.js';
import type { HostRecord } from '../../projections/read-model.types.js';
import type { ReadModels } from '../../projections/read-models.js';

@ApiTags('hosts')
@ApiBearerAuth()
@Controller('v1/hosts')
export class HostsController {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(AGGREGATES) private readonly aggregates: AggregateLoader,
    @Inject(READ_MODELS) private readonly readModels: ReadModels,
    @Inject(CAPABILITIES) private readonly capabilities: Capabilities,
    @Inject(HOST_QUERIES) private readonly queries: HostQueries,
    @Inject(PROJECTIONS) private readonly projections: ProjectionControl,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(CONFIG) private readonly config: AppConfig,
    @Inject(FLEET_HISTORY) private readonly fleet: FleetHistory,
  ) {}

  private view(rec: HostRecord): HostView {
    const caps = capabilitiesOfHost(rec.state, this.capabilities.probe);
    // A record from before allocations had their own keys has no count but all its allocations (flat, by VM id).
    const vms = rec.vms ?? Object.keys(rec.state.allocations).length;
    return toHostView(rec.state, caps, rec.revision, rec.createdAt, rec.updatedAt, vms);
  }

  /** The capabilities are recorded in HostRegistered: later commands read them from the host, not the driver. */
  @ApiAnswer('Register a host', HostResponse, {
    status: 201,
    description: 'Registered',
    headers: { Location: { description: 'The host: /v1/hosts/{id}', schema: { type: 'string' } } },
  })
  @Post()
  @Roles()
  async register(
    @Body() body: RegisterHostDto,
    @CurrentPrincipal() p: Principal,
    @Res({ passthrough: true }) res: Response,
  ): Promise<HostView> {
    const kinds = this.capabilities.kinds();
    if (!kinds.includes(body.driver)) {
      throw new BadRequestException(
        errorBody(400, `driver must be one of: ${kinds.join(', ')}`, [
          { field: 'driver', errors: [`unknown driver ${body.driver}`] },
        ]),
      );
    }
    let capabilities: HostCapabilities;
    try {
      capabilities = this.capabilities.probe(body.driver, body.uri);
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      throw new BadRequestException(errorBody(400, `uri: ${msg}`, [{ field: 'uri', errors: [msg] }]));
    }
    const labels = checkLabels(body.labels);
    // Names are what operators type: two hosts may not share one (a removed host's name is free again).
    const taken = (await this.readModels.listHosts()).find((h) => !h.state.removed && h.state.name === body.name);
    if (taken) {
      throw new ConflictException(
        errorBody(409, `name: host ${body.name} already exists (id ${taken.state.id})`, [
          { field: 'name', errors: [`taken by host ${taken.state.id}`] },
        ]),
      );
    }
    const hostId = body.id ?? randomUUID();
    const operationId = randomUUID();
    const result = await handleCommand(
      this.aggregates,
      hostDecider,
      hostStream(hostId),
      {
        type: 'RegisterHost',
        hostId,
        name: body.name,
        driver: body.driver,
        uri: body.uri,
        capacity: {
          vcpus: body.capacity.vcpus,
          memoryMiB: body.capacity.memoryMiB,
          ...(body.capacity.diskGiB !== undefined ? { diskGiB: body.capacity.diskGiB } : {}),
        },
        capabilities,
        ...(labels ? { labels } : {}),
      },
      {
        principal: p.id,
        correlationId: operationId,
        causationId: `http:${operationId}`,
        ...(body.reason ? { reason: body.reason } : {}),
      },
      { now: () => this.clock.now() },
    );
    const last = result.events[result.events.length - 1]!;
    await this.projections.waitFor(last.position, 3000);
    res.location(`/v1/hosts/${encodeURIComponent(hostId)}`);
    return toHostView(result.state, capabilities, result.revision ?? 0n, last.metadata.at, last.metadata.at);
  }

  @ApiAnswer('List hosts', HostPage)
  @Get()
  @Roles(...READERS)
  @ApiQuery({ name: 'at', required: false, description: FLEET_AT_DOC })
  async list(@Query('at') at?: unknown) {
    const point = parseFleetAt(at);
    if (point)
      return hostListAt(await fleetAt(this.fleet, point), (state) =>
        capabilitiesOfHost(state, this.capabilities.probe),
      );
    const hosts = await this.readModels.listHosts();
    return { items: hosts.filter((h) => !h.state.removed).map((h) => this.view(h)), next: null };
  }

  /** `?at=<ISO time>` or `?revision=<n>` (not both): the host as it was then, folded from its stream. */
  @ApiAnswer('Read a host (now, or as of a past instant or revision)', HostResponse, { headers: ETAG_HEADER })
  @Get(':id')
  @Roles(...READERS)
  @ApiQuery({ name: 'at', required: false, description: AT_DOC })
  @ApiQuery({ name: 'revision', required: false, description: REVISION_DOC })
  async get(
    @Param('id') id: string,
    @Res({ passthrough: true }) res: Response,
    @Query('at') at?: string,
    @Query('revision') revision?: string,
  ): Promise<HostView> {
    const point = parseAsOf({ at, revision });
    if (point) {
      const past = await hostViewAt(this.store, id, point, (state) =>
        capabilitiesOfHost(state, this.capabilities.probe),
      );
      res.setHeader('ETag', `"${past.revision}"`);
      return past;
    }
    const rec = await this.readModels.getHost(id);
    if (!rec) throw new NotFoundException(`host ${id} not found`);
    if (rec.state.removed)
      throw new NotFoundException(`host ${id} was removed (its history stays: ?at= or /v1/events)`);
    return this.view(rec);
  }

  /**
   * What the driver really runs on that host right now (like `virsh list --all`),
   * asked of the host's own worker over the queue: the API's machine may not be
   * the host, and a GET must not touch it. 503 + Retry-After when no worker
   * answers in time, or with the driver's reason when it cannot list.
   */
  @ApiAnswer("What the host's driver really runs, asked of its worker", HostDomainPage)
  @Get(':id/domains')
  @Roles('operator', 'auditor')
  async domains(@Param('id') id: string, @Res({ passthrough: true }) res: Response) {
    const rec = await this.readModels.getHost(id);
    if (!rec) throw new NotFoundException(`host ${id} not found`);
    // No worker serves a removed host: asking would only wait HOST_QUERY_TIMEOUT_MS for a 503.
    if (rec.state.removed) throw new NotFoundException(`host ${id} was removed: it runs no domains`);
    let reply;
    try {
      reply = await this.queries.ask(id, 'listDomains', this.config.hostQueryTimeoutMs);
    } catch (err) {
      if (!(err instanceof HostDidNotAnswer)) throw err;
      res.setHeader('Retry-After', String(Math.max(1, Math.ceil(this.config.hostQueryTimeoutMs / 1000))));
      throw new ServiceUnavailableException(err.message);
    }
    if (!reply.ok) {
      res.setHeader('Retry-After', '5');
      throw new ServiceUnavailableException(`host ${id}: the driver cannot list its domains: ${reply.reason}`);
    }
    return { items: reply.items, next: null };
  }
}
