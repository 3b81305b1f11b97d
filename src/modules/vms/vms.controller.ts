import {
  Body,
  Controller,
  Delete,
  Get,
  Headers,
  Param,
  ParseUUIDPipe,
  Patch,
  Post,
  Query,
  Res,
  BadRequestException,
  Inject,
  NotFoundException,
} from '@nestjs/common';
import { ApiBearerAuth, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { CurrentPrincipal } from '../../http/auth/principal.decorator.js';
import { AUDITORS, MUTATORS, READERS, Roles, type Principal } from '../../http/auth/roles.js';
import { parseIfMatch, parseLimit, parseCursor } from '../../http/query.js';
import { AT_DOC, badField, parseAsOf, parseDiffRange, POINT_DOC, REVISION_DOC } from '../../http/as-of.query.js';
import { parseRevisionNumber, REVISION_HINT } from '../../http/point-in-time.js';
import { CreateVmDto } from './dto/create-vm.dto.js';
import { MigrationDto } from './dto/migration.dto.js';
import { REASON_DOC, ReasonDto } from '../../http/reason.dto.js';
import { ApiAnswer, ApiPage, ApiVmCommand, ETAG_HEADER } from '../../http/openapi/decorators.js';
import { SnapshotPage, VmPage, VmResponse } from './dto/vm.response.js';
import { VmDiffResponse } from './dto/vm-diff.response.js';
import { ResizeVmDto } from './dto/resize-vm.dto.js';
import { WhyResponse } from './dto/why.response.js';
import { SnapshotDto } from './dto/snapshot.dto.js';
import { refuseSnapshotMissingVolumes } from './snapshot-volumes.check.js';
import { StopVmDto } from './dto/stop-vm.dto.js';
import { toVmView } from './vm.view.js';
import { withHostNames } from './host-names.js';
import { parseVmListFilter } from './vm-list.query.js';
import { vmListFilter } from './vm-list-filter.js';
import { VmsService, type Accepted, type CommandContext } from './vms.service.js';
import { VmResizeService } from './vm-resize.service.js';
import { VmHistoryService } from './vm-history.service.js';
import { NAME_PATTERN } from '../../domain/patterns.js';
import { FLEET_HISTORY, READ_MODELS, READ_YOUR_WRITES } from '../../http/tokens.js';
import type { ReadYourWrites } from '../../http/read-your-writes.js';
import { FLEET_AT_DOC, fleetAt, parseFleetAt } from '../../http/fleet-point.js';
import type { FleetHistory } from '../../projections/fleet-history.js';
import { vmListAt } from './vms-at.js';
import type { ReadModels } from '../../projections/read-models.js';

const uuid = new ParseUUIDPipe({
  version: '4',
  exceptionFactory: () => new NotFoundException('VM not found: the id is not a VM id'),
});

/** 202 + Location; the ETag is the VM's revision after the command (what GET /v1/vms/{id} shows once it is in). */
function accepted(res: Response, a: Accepted): Accepted {
  res.status(202).location(`/v1/operations/${a.operationId}`);
  if (a.revision !== undefined) res.setHeader('ETag', `"${a.revision}"`);
  return { operationId: a.operationId, vmId: a.vmId };
}

function snapshotName(name: string): string {
  if (!NAME_PATTERN.test(name))
    throw new BadRequestException(`name: snapshot name ${JSON.stringify(name)} is not valid`);
  return name;
}

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

  private ctx(principal: Principal, reason: string | undefined, ifMatch?: string): CommandContext {
    return {
      principal,
      ...(reason ? { reason } : {}),
      ...(ifMatch !== undefined ? { ifMatch: parseIfMatch(ifMatch) } : {}),
    };
  }

  @ApiVmCommand('Create a VM', 'Placement picks a host unless hostId is given; the VM starts unless start is false')
  @Post()
  @Roles(...MUTATORS)
  async create(@Body() body: CreateVmDto, @CurrentPrincipal() p: Principal, @Res({ passthrough: true }) res: Response) {
    return accepted(res, await this.vms.create(body, this.ctx(p, body.reason)));
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
    @Param('id', uuid) id: string,
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
   * Each field that changed between `from` and `to` (each a revision number or an
   * ISO time), with the event that changed it. Principals and operations show, so
   * it is for the same roles as the VM's events.
   */
  @ApiAnswer('What changed in a VM between two revisions or instants', VmDiffResponse)
  @Get(':id/diff')
  @Roles('operator', ...AUDITORS)
  @ApiQuery({ name: 'from', required: false, description: `${POINT_DOC}; default: before the first event (empty)` })
  @ApiQuery({ name: 'to', required: false, description: `${POINT_DOC}; default: the latest revision` })
  async diff(
    @Param('id', uuid) id: string,
    @CurrentPrincipal() p: Principal,
    @Query('from') from?: string,
    @Query('to') to?: string,
  ) {
    return this.history.diff(id, parseDiffRange({ from, to }), p);
  }

  /**
   * Why one state change happened: the event, the command that decided it, the
   * principal and reason, the causation chain back to the request or observation
   * that started it, and the evidence an automatic decision acted on.
   */
  @ApiAnswer('Why one state change of a VM happened', WhyResponse)
  @Get(':id/why')
  @Roles('operator', ...AUDITORS)
  @ApiQuery({ name: 'revision', required: false, description: 'stream revision; default: the latest (404 past it)' })
  async why(@Param('id', uuid) id: string, @CurrentPrincipal() p: Principal, @Query('revision') revision?: unknown) {
    let rev: bigint | undefined;
    if (revision !== undefined) {
      const parsed = typeof revision === 'string' ? parseRevisionNumber(revision) : null;
      if (parsed === null) throw badField('revision', REVISION_HINT);
      rev = parsed;
    }
    return this.history.why(id, p, rev);
  }

  @ApiVmCommand('Start a VM')
  @Post(':id/start')
  @Roles(...MUTATORS)
  async start(
    @Param('id', uuid) id: string,
    @Body() body: ReasonDto,
    @CurrentPrincipal() p: Principal,
    @Res({ passthrough: true }) res: Response,
    @Headers('if-match') ifMatch?: string,
  ) {
    return accepted(
      res,
      await this.vms.act(
        id,
        (operationId) => ({ type: 'StartVm', operationId, by: p.id }),
        this.ctx(p, body.reason, ifMatch),
      ),
    );
  }

  @ApiVmCommand('Stop a VM (graceful, or forced at once)')
  @Post(':id/stop')
  @Roles(...MUTATORS)
  async stop(
    @Param('id', uuid) id: string,
    @Body() body: StopVmDto,
    @CurrentPrincipal() p: Principal,
    @Res({ passthrough: true }) res: Response,
    @Headers('if-match') ifMatch?: string,
  ) {
    return accepted(
      res,
      await this.vms.act(
        id,
        (operationId) => ({
          type: 'StopVm',
          operationId,
          force: body.force ?? false,
          by: p.id,
          ...(body.timeoutMs !== undefined ? { timeoutMs: body.timeoutMs } : {}),
        }),
        this.ctx(p, body.reason, ifMatch),
      ),
    );
  }

  @ApiVmCommand('Reboot a VM')
  @Post(':id/reboot')
  @Roles(...MUTATORS)
  async reboot(
    @Param('id', uuid) id: string,
    @Body() body: ReasonDto,
    @CurrentPrincipal() p: Principal,
    @Res({ passthrough: true }) res: Response,
    @Headers('if-match') ifMatch?: string,
  ) {
    return accepted(
      res,
      await this.vms.act(
        id,
        (operationId, capabilities) => ({ type: 'RebootVm', operationId, capabilities }),
        this.ctx(p, body.reason, ifMatch),
      ),
    );
  }

  @ApiVmCommand('Pause a VM')
  @Post(':id/pause')
  @Roles(...MUTATORS)
  async pause(
    @Param('id', uuid) id: string,
    @Body() body: ReasonDto,
    @CurrentPrincipal() p: Principal,
    @Res({ passthrough: true }) res: Response,
    @Headers('if-match') ifMatch?: string,
  ) {
    return accepted(
      res,
      await this.vms.act(
        id,
        (operationId, capabilities) => ({ type: 'PauseVm', operationId, capabilities }),
        this.ctx(p, body.reason, ifMatch),
      ),
    );
  }

  @ApiVmCommand('Resume a paused VM')
  @Post(':id/resume')
  @Roles(...MUTATORS)
  async resume(
    @Param('id', uuid) id: string,
    @Body() body: ReasonDto,
    @CurrentPrincipal() p: Principal,
    @Res({ passthrough: true }) res: Response,
    @Headers('if-match') ifMatch?: string,
  ) {
    return accepted(
      res,
      await this.vms.act(
        id,
        (operationId, capabilities) => ({ type: 'ResumeVm', operationId, capabilities }),
        this.ctx(p, body.reason, ifMatch),
      ),
    );
  }

  @ApiVmCommand('Take a snapshot of a VM')
  @Post(':id/snapshots')
  @Roles(...MUTATORS)
  async snapshot(
    @Param('id', uuid) id: string,
    @Body() body: SnapshotDto,
    @CurrentPrincipal() p: Principal,
    @Res({ passthrough: true }) res: Response,
    @Headers('if-match') ifMatch?: string,
  ) {
    return accepted(
      res,
      await this.vms.act(
        id,
        async (operationId, capabilities, state) => {
          // libvirt's habit: a snapshot of a live VM includes its memory unless asked otherwise.
          const memory = body.memory ?? (state.state === 'running' || state.state === 'paused');
          refuseSnapshotMissingVolumes((await this.vms.capabilitiesOf(state.hostId)).driver, memory, state);
          return { type: 'TakeSnapshot', operationId, name: body.name, memory, capabilities };
        },
        this.ctx(p, body.reason, ifMatch),
      ),
    );
  }

  @ApiAnswer("List a VM's snapshots", SnapshotPage)
  @Get(':id/snapshots')
  @Roles(...READERS)
  async snapshots(@Param('id', uuid) id: string, @CurrentPrincipal() p: Principal) {
    const view = await this.history.view(id, p);
    return { items: view.snapshots, next: null };
  }

  @ApiVmCommand('Revert a VM to a snapshot')
  @Post(':id/snapshots/:name/revert')
  @Roles(...MUTATORS)
  async revert(
    @Param('id', uuid) id: string,
    @Param('name') name: string,
    @Body() body: ReasonDto,
    @CurrentPrincipal() p: Principal,
    @Res({ passthrough: true }) res: Response,
    @Headers('if-match') ifMatch?: string,
  ) {
    const snap = snapshotName(name);
    return accepted(
      res,
      await this.vms.act(
        id,
        (operationId) => ({ type: 'RevertSnapshot', operationId, name: snap }),
        this.ctx(p, body.reason, ifMatch),
      ),
    );
  }

  @ApiVmCommand('Delete a snapshot')
  @ApiQuery({ name: 'reason', required: false, description: REASON_DOC })
  @Delete(':id/snapshots/:name')
  @Roles(...MUTATORS)
  async deleteSnapshot(
    @Param('id', uuid) id: string,
    @Param('name') name: string,
    @CurrentPrincipal() p: Principal,
    @Res({ passthrough: true }) res: Response,
    @Query('reason') reason?: string,
    @Headers('if-match') ifMatch?: string,
  ) {
    const snap = snapshotName(name);
    return accepted(
      res,
      await this.vms.act(
        id,
        (operationId) => ({ type: 'DeleteSnapshot', operationId, name: snap }),
        this.ctx(p, checkReason(reason), ifMatch),
      ),
    );
  }

  @ApiVmCommand('Migrate a VM to another host (live or cold)')
  @Post(':id/migrations')
  @Roles(...MUTATORS)
  async migrate(
    @Param('id', uuid) id: string,
    @Body() body: MigrationDto,
    @CurrentPrincipal() p: Principal,
    @Res({ passthrough: true }) res: Response,
    @Headers('if-match') ifMatch?: string,
  ) {
    return accepted(
      res,
      await this.vms.migrate(
        id,
        body.targetHostId,
        body.live ?? true,
        this.ctx(p, body.reason, ifMatch),
        body.hostSelector,
      ),
    );
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
    @Param('id', uuid) id: string,
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
    const ctx = this.ctx(p, body.reason, ifMatch);
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
    @Param('id', uuid) id: string,
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
        this.ctx(p, checkReason(reason), ifMatch),
      ),
    );
  }
}

function checkReason(reason: string | undefined): string | undefined {
  if (reason !== undefined && reason.length > 500)
    throw new BadRequestException('reason must be shorter than or equal to 500 characters');
  return reason;
}
