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
import { ApiBearerAuth, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { CurrentPrincipal } from '../../http/auth/principal.decorator.js';
import { AUDITORS, MUTATORS, READERS, Roles, type Principal } from '../../http/auth/roles.js';
import { parseIfMatch, parseLimit, parseCursor } from '../../http/query.js';
import { AT_DOC, parseAsOf, parseDiffRange, POINT_DOC, REVISION_DOC } from '../../http/as-of.query.js';
import { CreateVmDto } from './dto/create-vm.dto.js';
import { MigrationDto } from './dto/migration.dto.js';
import { ResizeVmDto } from './dto/resize-vm.dto.js';
import { ReasonDto } from '../../http/reason.dto.js';
import { SnapshotDto } from './dto/snapshot.dto.js';
import { StopVmDto } from './dto/stop-vm.dto.js';
import { toVmView } from './vm.view.js';
import { VmsService, type Accepted, type CommandContext } from './vms.service.js';
import { NAME_PATTERN } from '../../domain/patterns.js';
import { READ_MODELS } from '../../http/tokens.js';
import { errorBody } from '../../http/error-body.js';
import type { ReadModels } from '../../projections/read-models.js';

const uuid = new ParseUUIDPipe({
  version: '4',
  exceptionFactory: () => new NotFoundException('VM not found: the id is not a VM id'),
});

function accepted(res: Response, a: Accepted): Accepted {
  res.status(202).location(`/v1/operations/${a.operationId}`);
  return a;
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
    @Inject(READ_MODELS) private readonly readModels: ReadModels,
  ) {}

  private ctx(principal: Principal, reason: string | undefined, ifMatch?: string): CommandContext {
    return {
      principal,
      ...(reason ? { reason } : {}),
      ...(ifMatch !== undefined ? { ifMatch: parseIfMatch(ifMatch) } : {}),
    };
  }

  @Post()
  @Roles(...MUTATORS)
  async create(@Body() body: CreateVmDto, @CurrentPrincipal() p: Principal, @Res({ passthrough: true }) res: Response) {
    return accepted(res, await this.vms.create(body, this.ctx(p, body.reason)));
  }

  @Get()
  @Roles(...READERS)
  async list(@Query('cursor') cursor?: string, @Query('limit') limit?: string) {
    const page = await this.readModels.listVms(parseCursor(cursor), parseLimit(limit));
    return {
      items: page.items.map((r) => toVmView(r.state, r.revision, r.createdAt, r.updatedAt)),
      next: page.next,
    };
  }

  /** `?at=<ISO time>` or `?revision=<n>` (not both): the VM as it was then, folded from its stream. */
  @Get(':id')
  @Roles(...READERS)
  @ApiQuery({ name: 'at', required: false, description: AT_DOC })
  @ApiQuery({ name: 'revision', required: false, description: REVISION_DOC })
  async get(
    @Param('id', uuid) id: string,
    @Res({ passthrough: true }) res: Response,
    @Query('at') at?: string,
    @Query('revision') revision?: string,
  ) {
    const view = await this.vms.view(id, parseAsOf({ at, revision }));
    res.setHeader('ETag', `"${view.revision}"`);
    return view;
  }

  /**
   * Each field that changed between `from` and `to` (each a revision number or an
   * ISO time), with the event that changed it. Principals and operations show, so
   * it is for the same roles as the VM's events.
   */
  @Get(':id/diff')
  @Roles('operator', ...AUDITORS)
  @ApiQuery({ name: 'from', required: false, description: `${POINT_DOC}; default: before the first event (empty)` })
  @ApiQuery({ name: 'to', required: false, description: `${POINT_DOC}; default: the latest revision` })
  async diff(@Param('id', uuid) id: string, @Query('from') from?: string, @Query('to') to?: string) {
    return this.vms.diff(id, parseDiffRange({ from, to }));
  }

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
      await this.vms.act(id, (operationId) => ({ type: 'StartVm', operationId }), this.ctx(p, body.reason, ifMatch)),
    );
  }

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
          ...(body.timeoutMs !== undefined ? { timeoutMs: body.timeoutMs } : {}),
        }),
        this.ctx(p, body.reason, ifMatch),
      ),
    );
  }

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
        (operationId, capabilities, state) => ({
          type: 'TakeSnapshot',
          operationId,
          name: body.name,
          // libvirt's habit: a snapshot of a live VM includes its memory unless asked otherwise.
          memory: body.memory ?? (state.state === 'running' || state.state === 'paused'),
          capabilities,
        }),
        this.ctx(p, body.reason, ifMatch),
      ),
    );
  }

  @Get(':id/snapshots')
  @Roles(...READERS)
  async snapshots(@Param('id', uuid) id: string) {
    const view = await this.vms.view(id);
    return { items: view.snapshots, next: null };
  }

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
      await this.vms.migrate(id, body.targetHostId, body.live ?? true, this.ctx(p, body.reason, ifMatch)),
    );
  }

  /**
   * Cold resize: `If-Match` (the VM's ETag) is required, the VM must be stopped, a disk only grows,
   * and the host's reservation must take the new size (409 with the numbers). The driver applies it
   * at the next start. 202 + operation; 200 with the VM when the size is already that.
   */
  @Patch(':id')
  @Roles(...MUTATORS)
  async resize(
    @Param('id', uuid) id: string,
    @Body() body: ResizeVmDto,
    @CurrentPrincipal() p: Principal,
    @Res({ passthrough: true }) res: Response,
    @Headers('if-match') ifMatch?: string,
  ) {
    if (ifMatch === undefined) {
      throw new BadRequestException(
        errorBody(400, 'If-Match: required (the ETag of GET /v1/vms/{id})', [
          { field: 'If-Match', errors: ['If-Match is required'] },
        ]),
      );
    }
    const size = {
      ...(body.vcpus !== undefined ? { vcpus: body.vcpus } : {}),
      ...(body.memoryMiB !== undefined ? { memoryMiB: body.memoryMiB } : {}),
      ...(body.diskGiB !== undefined ? { diskGiB: body.diskGiB } : {}),
    };
    const r = await this.vms.resize(id, size, this.ctx(p, body.reason, ifMatch));
    if (!r.changed) return this.vms.view(id);
    return accepted(res, { operationId: r.operationId, vmId: r.vmId });
  }

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
