import { Body, Controller, Delete, Get, Headers, Inject, Param, Patch, Post, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { CurrentPrincipal } from '../../http/auth/principal.decorator.js';
import { MUTATORS, READERS, Roles, type Principal } from '../../http/auth/roles.js';
import { parseLimit, parseCursor } from '../../http/query.js';
import { AT_DOC, parseAsOf, REVISION_DOC } from '../../http/as-of.query.js';
import { CreateVmDto } from './dto/create-vm.dto.js';
import { REASON_DOC } from '../../http/reason.dto.js';
import { ApiAnswer, ApiPage, ApiVmCommand, ETAG_HEADER } from '../../http/openapi/decorators.js';
import { VmPage, VmResponse } from './dto/vm.response.js';
import { ResizeVmDto } from './dto/resize-vm.dto.js';
import { toVmView } from './vm.view.js';
import { withHostNames } from './host-names.js';
import { parseVmListFilter } from './vm-list.query.js';
import { vmListFilter } from './vm-list-filter.js';
import { VmsService } from './vms.service.js';
import { VmResizeService } from './vm-resize.service.js';
import { VmHistoryService } from './vm-history.service.js';
import { FLEET_HISTORY, READ_MODELS, READ_YOUR_WRITES } from '../../http/tokens.js';
import type { ReadYourWrites } from '../../http/read-your-writes.js';
import { FLEET_AT_DOC, fleetAt, parseFleetAt } from '../../http/fleet-point.js';
import type { FleetHistory } from '../../projections/fleet-history.js';
import { vmListAt } from './vms-at.js';
import type { ReadModels } from '../../projections/read-models.js';
import { accepted, checkReason, commandContext, vmId } from './vm-command.http.js';

/**
 * /v1/vms and /v1/vms/{id}: create, list, read, resize, delete. The verbs on one VM
 * are in vm-lifecycle.controller.ts, its snapshots in vm-snapshots.controller.ts, its
 * history (diff, why) in vm-history.controller.ts.
 */
@ApiTags('vms')
@ApiBearerAuth()
@Controller('v1/vms')
export class VmsController {
  constructor(
    private readonly vms: VmsService,
    private readonly resizer: VmResizeService,
    private readonly history: VmHistoryService,
    @Inject(READ_MODELS) private readonly readModels: ReadModels,
    @Inject(FLEET_HISTORY) private readonly fleet: FleetHistory,
    @Inject(READ_YOUR_WRITES) private readonly ryw: ReadYourWrites,
  ) {}

  @ApiVmCommand('Create a VM', 'Placement picks a host unless hostId is given; the VM starts unless start is false')
  @Post()
  @Roles(...MUTATORS)
  async create(@Body() body: CreateVmDto, @CurrentPrincipal() p: Principal, @Res({ passthrough: true }) res: Response) {
    return accepted(res, await this.vms.create(body, commandContext(p, body.reason)));
  }

  /**
   * The caller's projects' VMs, oldest first; deleted ones (a purged failed create
   * included) only with `?includeDeleted=true` (or `?state=deleted`).
   */
  @ApiAnswer('List VMs', VmPage)
  @ApiPage()
  @Get()
  @Roles(...READERS)
  @ApiQuery({ name: 'state', required: false, description: 'VM states (comma list), e.g. running,paused' })
  @ApiQuery({ name: 'hostId', required: false, description: 'only VMs on this host' })
  @ApiQuery({ name: 'name', required: false, description: 'only VMs with exactly this name' })
  @ApiQuery({ name: 'includeDeleted', required: false, description: 'true: list deleted VMs too (default false)' })
  @ApiQuery({ name: 'project', required: false, description: "only this project's VMs" })
  @ApiQuery({ name: 'at', required: false, description: FLEET_AT_DOC })
  async list(
    @CurrentPrincipal() p: Principal,
    @Query('cursor') cursor?: string,
    @Query('limit') limit?: string,
    @Query('state') state?: string,
    @Query('hostId') hostId?: string,
    @Query('name') name?: string,
    @Query('includeDeleted') includeDeleted?: string,
    @Query('project') project?: string,
    @Query('at') at?: unknown,
  ) {
    const filter = parseVmListFilter({ state, hostId, name, includeDeleted });
    const visible = vmListFilter(p, { project });
    // The list as it was: folded from the log from the nearest checkpoint, every VM in one page.
    const point = parseFleetAt(at);
    if (point) return vmListAt(await fleetAt(this.fleet, point), filter, visible);
    // What this process accepted from the same principal is in the list (read-your-writes, see README).
    await this.ryw.principal(p.id);
    const page = await this.readModels.findVms(filter, parseCursor(cursor), parseLimit(limit), visible);
    const views = page.items.map((r) => toVmView(r.state, r.revision, r.createdAt, r.updatedAt));
    return { items: await withHostNames(this.readModels, views), next: page.next };
  }

  /** `?at=<ISO time>` or `?revision=<n>` (not both): the VM as it was then, folded from its stream. */
  @ApiAnswer('Read a VM (now, or as of a past instant or revision)', VmResponse, { headers: ETAG_HEADER })
  @Get(':id')
  @Roles(...READERS)
  @ApiQuery({ name: 'at', required: false, description: AT_DOC })
  @ApiQuery({ name: 'revision', required: false, description: REVISION_DOC })
  async get(
    @Param('id', vmId) id: string,
    @CurrentPrincipal() p: Principal,
    @Res({ passthrough: true }) res: Response,
    @Query('at') at?: string,
    @Query('revision') revision?: string,
  ) {
    const view = await this.history.view(id, p, parseAsOf({ at, revision }));
    res.setHeader('ETag', `"${view.revision}"`);
    const [named] = await withHostNames(this.readModels, [view]);
    return named!;
  }

  /**
   * Resize: `If-Match` (the VM's ETag) is required, a disk only grows, and the host's reservation
   * must take the new size (409 with the numbers). Stopped: cold, the driver applies it at the next
   * start. Running: live where the host's driver can (422 otherwise), within the VM's ceilings
   * maxVcpus/maxMemoryMiB (409 past them: stop the VM to go beyond); the operation runs on the host.
   * 202 + operation; 200 with the VM when the size is already that.
   * `restartPolicy` alone is recorded at once (any state): 200 with the VM.
   */
  @ApiVmCommand(
    'Resize a VM (vCPUs, memory, disk grow): cold when stopped, live when running where the driver can; or change its restartPolicy',
  )
  @ApiResponse({
    status: 200,
    type: VmResponse,
    description: 'Only restartPolicy was given: recorded, the VM as it is now',
  })
  @Patch(':id')
  @Roles(...MUTATORS)
  async resize(
    @Param('id', vmId) id: string,
    @Body() body: ResizeVmDto,
    @CurrentPrincipal() p: Principal,
    @Res({ passthrough: true }) res: Response,
    @Headers('if-match') ifMatch?: string,
  ) {
    const size = {
      ...(body.vcpus !== undefined ? { vcpus: body.vcpus } : {}),
      ...(body.memoryMiB !== undefined ? { memoryMiB: body.memoryMiB } : {}),
      ...(body.diskGiB !== undefined ? { diskGiB: body.diskGiB } : {}),
    };
    const ctx = commandContext(p, body.reason, ifMatch);
    if (body.restartPolicy !== undefined && Object.keys(size).length === 0) {
      await this.resizer.setRestartPolicy(id, body.restartPolicy, ctx);
      res.status(200);
      return this.history.view(id, p);
    }
    const r = await this.resizer.resize(id, size, ctx);
    // The size first (it checks If-Match against the revision the client saw), then the policy.
    if (body.restartPolicy !== undefined)
      r.revision = await this.resizer.setRestartPolicy(id, body.restartPolicy, { ...ctx, ifMatch: undefined });
    if (!r.changed) return this.history.view(id, p);
    return accepted(res, r);
  }

  @ApiVmCommand('Delete a VM and its disks')
  @ApiQuery({ name: 'reason', required: false, description: REASON_DOC })
  @Delete(':id')
  @Roles(...MUTATORS)
  async remove(
    @Param('id', vmId) id: string,
    @CurrentPrincipal() p: Principal,
    @Res({ passthrough: true }) res: Response,
    @Query('reason') reason?: string,
    @Headers('if-match') ifMatch?: string,
  ) {
    return accepted(
      res,
      await this.vms.act(
        id,
        (operationId) => ({ type: 'DeleteVm', operationId }),
        commandContext(p, checkReason(reason), ifMatch),
      ),
    );
  }
}
