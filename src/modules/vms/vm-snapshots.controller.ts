import { BadRequestException, Body, Controller, Delete, Get, Headers, Param, Post, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { CurrentPrincipal } from '../../http/auth/principal.decorator.js';
import { MUTATORS, READERS, Roles, type Principal } from '../../http/auth/roles.js';
import { REASON_DOC, ReasonDto } from '../../http/reason.dto.js';
import { ApiAnswer, ApiVmCommand } from '../../http/openapi/decorators.js';
import { NAME_PATTERN } from '../../domain/patterns.js';
import { SnapshotPage } from './dto/vm.response.js';
import { SnapshotDto } from './dto/snapshot.dto.js';
import { refuseSnapshotMissingVolumes } from './snapshot-volumes.check.js';
import { VmsService } from './vms.service.js';
import { VmHistoryService } from './vm-history.service.js';
import { accepted, checkReason, commandContext, vmId } from './vm-command.http.js';

function snapshotName(name: string): string {
  if (!NAME_PATTERN.test(name))
    throw new BadRequestException(`name: snapshot name ${JSON.stringify(name)} is not valid`);
  return name;
}

/** A VM's snapshots: take, list, revert to, delete. */
@ApiTags('vms')
@ApiBearerAuth()
@Controller('v1/vms')
export class VmSnapshotsController {
  constructor(
    private readonly vms: VmsService,
    private readonly history: VmHistoryService,
  ) {}

  @ApiVmCommand('Take a snapshot of a VM')
  @Post(':id/snapshots')
  @Roles(...MUTATORS)
  async snapshot(
    @Param('id', vmId) id: string,
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
        commandContext(p, body.reason, ifMatch),
      ),
    );
  }

  @ApiAnswer("List a VM's snapshots", SnapshotPage)
  @Get(':id/snapshots')
  @Roles(...READERS)
  async snapshots(@Param('id', vmId) id: string, @CurrentPrincipal() p: Principal) {
    const view = await this.history.view(id, p);
    return { items: view.snapshots, next: null };
  }

  @ApiVmCommand('Revert a VM to a snapshot')
  @Post(':id/snapshots/:name/revert')
  @Roles(...MUTATORS)
  async revert(
    @Param('id', vmId) id: string,
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
        commandContext(p, body.reason, ifMatch),
      ),
    );
  }

  @ApiVmCommand('Delete a snapshot')
  @ApiQuery({ name: 'reason', required: false, description: REASON_DOC })
  @Delete(':id/snapshots/:name')
  @Roles(...MUTATORS)
  async deleteSnapshot(
    @Param('id', vmId) id: string,
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
        commandContext(p, checkReason(reason), ifMatch),
      ),
    );
  }
}
