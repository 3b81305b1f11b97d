import { Body, Controller, Delete, Param, Post, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { CurrentPrincipal } from '../../http/auth/principal.decorator.js';
import { MUTATORS, Roles, type Principal } from '../../http/auth/roles.js';
import { ApiCommand } from '../../http/openapi/decorators.js';
import { REASON_DOC } from '../../http/reason.dto.js';
import { AttachVolumeDto } from './dto/create-volume.dto.js';
import { accepted, VM_ID as ID, VOLUME_ID } from './volumes.controller.js';
import { VolumesService } from './volumes.service.js';

/** A VM's volumes: attach and detach are the VM's operations (hot-plug where the driver can). */
@ApiTags('vms')
@ApiBearerAuth()
@Controller('v1/vms/:id/volumes')
export class VmVolumesController {
  constructor(private readonly volumes: VolumesService) {}

  @ApiCommand(
    'Attach a volume to a VM',
    'Hot-plugged into a running qemu or libvirt VM; a container takes it at its next start (409 while it runs)',
  )
  @Post()
  @Roles(...MUTATORS)
  async attach(
    @Param('id', ID) id: string,
    @Body() body: AttachVolumeDto,
    @CurrentPrincipal() p: Principal,
    @Res({ passthrough: true }) res: Response,
  ) {
    return accepted(
      res,
      await this.volumes.attach(id, body.volumeId, { principal: p, ...(body.reason ? { reason: body.reason } : {}) }),
    );
  }

  @ApiCommand('Detach a volume from a VM', 'Hot-unplugged from a running qemu or libvirt VM')
  @ApiQuery({ name: 'reason', required: false, description: REASON_DOC })
  @Delete(':volumeId')
  @Roles(...MUTATORS)
  async detach(
    @Param('id', ID) id: string,
    @Param('volumeId', VOLUME_ID) volumeId: string,
    @CurrentPrincipal() p: Principal,
    @Res({ passthrough: true }) res: Response,
    @Query('reason') reason?: string,
  ) {
    return accepted(res, await this.volumes.detach(id, volumeId, { principal: p, ...(reason ? { reason } : {}) }));
  }
}
