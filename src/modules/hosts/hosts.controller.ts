import {
  BadRequestException,
  Body,
  Controller,
  Get,
  Inject,
  NotFoundException,
  Param,
  Post,
  Query,
  Res,
} from '@nestjs/common';
import type { Response } from 'express';
import { ApiBearerAuth, ApiQuery, ApiTags } from '@nestjs/swagger';
import { randomUUID } from 'node:crypto';
import { handleCommand } from '../../application/handle-command.js';
import { hostStream } from '../../domain/streams.js';
import { createDriver, driverCapabilities, knownDriverKinds } from '../../drivers/driver-registry.js';
import type { DriverCapabilities } from '../../drivers/hypervisor-driver.port.js';
import type { Runtime } from '../../runtime/runtime.js';
import { RUNTIME } from '../../runtime/runtime.token.js';
import { errorBody } from '../../http/error-body.js';
import { CurrentPrincipal } from '../../http/auth/principal.decorator.js';
import { READERS, Roles, type Principal } from '../../http/auth/roles.js';
import { RegisterHostDto } from './dto/register-host.dto.js';
import { hostDecider } from '../../domain/host/host.decider.js';
import { hostViewAt } from './host-history.js';
import { AT_DOC, parseAsOf, REVISION_DOC } from '../../http/as-of.query.js';
import { toHostView, type HostView } from './host.view.js';
import type { HostRecord } from '../../projections/read-model.types.js';
import { VmsService } from '../vms/vms.service.js';

function capabilitiesOf(driver: string, uri: string): DriverCapabilities | null {
  try {
    return driverCapabilities(driver, uri);
  } catch {
    return null;
  }
}

function view(rec: HostRecord): HostView {
  return toHostView(
    rec.state,
    capabilitiesOf(rec.state.driver, rec.state.uri),
    rec.revision,
    rec.createdAt,
    rec.updatedAt,
  );
}

@ApiTags('hosts')
@ApiBearerAuth()
@Controller('v1/hosts')
export class HostsController {
  constructor(
    @Inject(RUNTIME) private readonly rt: Runtime,
    private readonly vms: VmsService,
  ) {}

  @Post()
  @Roles()
  async register(@Body() body: RegisterHostDto, @CurrentPrincipal() p: Principal): Promise<HostView> {
    if (!knownDriverKinds().includes(body.driver)) {
      throw new BadRequestException(
        errorBody(400, `driver must be one of: ${knownDriverKinds().join(', ')}`, [
          { field: 'driver', errors: [`unknown driver ${body.driver}`] },
        ]),
      );
    }
    let capabilities: DriverCapabilities;
    try {
      capabilities = driverCapabilities(body.driver, body.uri);
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      throw new BadRequestException(errorBody(400, `uri: ${msg}`, [{ field: 'uri', errors: [msg] }]));
    }
    const hostId = body.id ?? randomUUID();
    const operationId = randomUUID();
    const result = await handleCommand(
      this.vms.aggregates,
      hostDecider,
      hostStream(hostId),
      {
        type: 'RegisterHost',
        hostId,
        name: body.name,
        driver: body.driver,
        uri: body.uri,
        capacity: { vcpus: body.capacity.vcpus, memoryMiB: body.capacity.memoryMiB },
      },
      {
        principal: p.id,
        correlationId: operationId,
        causationId: `http:${operationId}`,
        ...(body.reason ? { reason: body.reason } : {}),
      },
    );
    const last = result.events[result.events.length - 1]!;
    await this.rt.waitForProjections(last.position);
    return toHostView(result.state, capabilities, result.revision ?? 0n, last.metadata.at, last.metadata.at);
  }

  @Get()
  @Roles(...READERS)
  async list() {
    const hosts = await this.rt.readModels.listHosts();
    return { items: hosts.map(view), next: null };
  }

  /** `?at=<ISO time>` or `?revision=<n>` (not both): the host as it was then, folded from its stream. */
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
      const past = await hostViewAt(this.vms.store, id, point, capabilitiesOf);
      res.setHeader('ETag', `"${past.revision}"`);
      return past;
    }
    const rec = await this.rt.readModels.getHost(id);
    if (!rec) throw new NotFoundException(`host ${id} not found`);
    return view(rec);
  }

  /** What the driver really runs on that host right now (like `virsh list --all`). */
  @Get(':id/domains')
  @Roles('operator', 'auditor')
  async domains(@Param('id') id: string) {
    const rec = await this.rt.readModels.getHost(id);
    if (!rec) throw new NotFoundException(`host ${id} not found`);
    const local = this.rt.pool.workers.get(id);
    const driver =
      local?.driver ?? createDriver(this.rt.pool.binding({ id, driver: rec.state.driver, uri: rec.state.uri }));
    try {
      return { items: await driver.listDomains(), next: null };
    } finally {
      if (!local) await driver.close();
    }
  }
}
