import { randomUUID } from 'node:crypto';
import { Body, Controller, Delete, HttpCode, Inject, Param, Patch, Post, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { ApiAnswer, ApiCommand } from '../../http/openapi/decorators.js';
import { HostResponse } from './dto/host.response.js';
import type { Response } from 'express';
import { capabilitiesOfHost, type Capabilities } from '../../application/host-capabilities.js';
import type { HandleResult } from '../../application/handle-command.js';
import type { HostState } from '../../domain/host/host.state.js';
import { CurrentPrincipal } from '../../http/auth/principal.decorator.js';
import { Roles, type Principal } from '../../http/auth/roles.js';
import { ReasonDto } from '../../http/reason.dto.js';
import { CAPABILITIES } from '../../http/tokens.js';
import { badField } from '../../http/as-of.query.js';
import { UpdateHostDto } from './dto/update-host.dto.js';
import { HostFleetService } from './host-fleet.service.js';
import { toHostView, type HostView } from './host.view.js';
import { checkLabels } from '../../http/labels.js';

/** Host maintenance (admin): update, drain, restore, evacuate, deregister. */
@ApiTags('hosts')
@ApiBearerAuth()
@Controller('v1/hosts')
export class HostFleetController {
  constructor(
    private readonly fleet: HostFleetService,
    @Inject(CAPABILITIES) private readonly capabilities: Capabilities,
  ) {}

  private view(r: HandleResult<HostState>): HostView {
    const at = r.events[r.events.length - 1]?.metadata.at ?? new Date(this.nowMs()).toISOString();
    const caps = capabilitiesOfHost(r.state, this.capabilities.probe);
    return toHostView(r.state, caps, r.revision ?? 0n, at, at);
  }

  private nowMs(): number {
    return Date.now();
  }

  /** Capacity (never below what is allocated: 409 with the numbers) and/or labels (replaced as a whole). */
  @ApiAnswer("Change a host's capacity and/or labels", HostResponse)
  @Patch(':id')
  @Roles()
  async update(
    @Param('id') id: string,
    @Body() body: UpdateHostDto,
    @CurrentPrincipal() p: Principal,
  ): Promise<HostView> {
    const labels = checkLabels(body.labels);
    if (!body.capacity && !labels) throw badField('capacity', 'or labels: give at least one');
    const r = await this.fleet.command(
      id,
      {
        type: 'UpdateHost',
        ...(body.capacity
          ? {
              capacity: {
                vcpus: body.capacity.vcpus,
                memoryMiB: body.capacity.memoryMiB,
                ...(body.capacity.diskGiB !== undefined ? { diskGiB: body.capacity.diskGiB } : {}),
              },
            }
          : {}),
        ...(labels ? { labels } : {}),
      },
      p,
      body.reason,
    );
    return this.view(r);
  }

  /** No new VM is placed on (or migrated to) a draining host; its VMs stay until moved. */
  @ApiAnswer('Drain a host: no new VM is placed on it', HostResponse)
  @Post(':id/drain')
  @HttpCode(200)
  @Roles()
  async drain(@Param('id') id: string, @Body() body: ReasonDto, @CurrentPrincipal() p: Principal): Promise<HostView> {
    return this.view(await this.fleet.command(id, { type: 'SetHostState', state: 'draining' }, p, body.reason));
  }

  /** Back in service. */
  @ApiAnswer('Restore a drained host to service', HostResponse)
  @Post(':id/restore')
  @HttpCode(200)
  @Roles()
  async restore(@Param('id') id: string, @Body() body: ReasonDto, @CurrentPrincipal() p: Principal): Promise<HostView> {
    return this.view(await this.fleet.command(id, { type: 'SetHostState', state: 'active' }, p, body.reason));
  }

  /**
   * The admin asserts the host is off (power cut, out-of-band STONITH): refused (409) unless the
   * control plane sees it unreachable. Records HostFenced with the unreachable evidence; its VMs with a
   * restartPolicy and shared storage are then recovered on another host (one `recover` operation each),
   * the others read crashed with why. 200 with the host (state `fenced`).
   */
  @ApiAnswer('Fence an unreachable host: its VMs are recovered elsewhere or marked lost', HostResponse)
  @Post(':id/fence')
  @HttpCode(200)
  @Roles()
  async fence(@Param('id') id: string, @Body() body: ReasonDto, @CurrentPrincipal() p: Principal): Promise<HostView> {
    const fenceId = randomUUID();
    return this.view(
      await this.fleet.command(
        id,
        { type: 'FenceHost', fenceId, by: p.id, ...(body.reason ? { reason: body.reason } : {}) },
        p,
        body.reason,
      ),
    );
  }

  /** Drains, then moves every VM away: 202 + the parent operation (progress {done, total}, result). */
  @ApiCommand(
    'Evacuate a host: drain it, then migrate every VM away',
    'The operation (kind evacuate) has one child migration per VM, progress {done, total} and a result.',
  )
  @Post(':id/evacuate')
  @Roles()
  async evacuate(
    @Param('id') id: string,
    @Body() body: ReasonDto,
    @CurrentPrincipal() p: Principal,
    @Res({ passthrough: true }) res: Response,
  ): Promise<{ operationId: string }> {
    const a = await this.fleet.evacuate(id, p, body.reason);
    res.status(202).location(`/v1/operations/${a.operationId}`);
    return a;
  }

  /** Deregisters a host with no VM left (409 naming them otherwise): HostRemoved, gone from lists, its worker stops. */
  @ApiAnswer('Deregister a host with no VM left', HostResponse, { description: 'Removed: the host as it was' })
  @Delete(':id')
  @Roles()
  async remove(
    @Param('id') id: string,
    @CurrentPrincipal() p: Principal,
    @Query('reason') reason?: string,
  ): Promise<HostView> {
    if (reason !== undefined && reason.length > 500) throw badField('reason', 'must be at most 500 characters');
    return this.view(await this.fleet.command(id, { type: 'RemoveHost' }, p, reason));
  }
}
