import {
  Body,
  Controller,
  Delete,
  NotFoundException,
  ParseUUIDPipe,
  Query,
  Get,
  Param,
  Patch,
  Post,
  Res,
} from '@nestjs/common';
import { ApiBearerAuth, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { CurrentPrincipal } from '../../http/auth/principal.decorator.js';
import { MUTATORS, READERS, Roles, type Principal } from '../../http/auth/roles.js';
import { ApiAnswer, ApiCommand } from '../../http/openapi/decorators.js';
import { REASON_DOC } from '../../http/reason.dto.js';
import { CreateVolumeDto, ResizeVolumeDto } from './dto/create-volume.dto.js';
import { VolumePage, VolumeResponse } from './dto/volume.response.js';
import { VolumesService, type VolumeAccepted } from './volumes.service.js';

const uuidOf = (what: string) =>
  new ParseUUIDPipe({
    version: '4',
    exceptionFactory: () => new NotFoundException(`${what} not found: the id is not a ${what} id`),
  });
export const VOLUME_ID = uuidOf('volume');
export const VM_ID = uuidOf('VM');
const ID = VOLUME_ID;

export function accepted(res: Response, a: VolumeAccepted): VolumeAccepted {
  res.status(202).location(`/v1/operations/${a.operationId}`);
  return a;
}

@ApiTags('volumes')
@ApiBearerAuth()
@Controller('v1/volumes')
export class VolumesController {
  constructor(private readonly volumes: VolumesService) {}

  @ApiCommand(
    'Create a volume',
    'A qcow2 file (a directory on container hosts) on the host given, or the one with most free disk',
  )
  @Post()
  @Roles(...MUTATORS)
  async create(
    @Body() body: CreateVolumeDto,
    @CurrentPrincipal() p: Principal,
    @Res({ passthrough: true }) res: Response,
  ) {
    return accepted(
      res,
      await this.volumes.create(body, { principal: p, ...(body.reason ? { reason: body.reason } : {}) }),
    );
  }

  @ApiAnswer("List the caller's projects' volumes", VolumePage)
  @Get()
  @Roles(...READERS)
  async list(@CurrentPrincipal() p: Principal) {
    return { items: await this.volumes.list(p) };
  }

  @ApiAnswer('Read a volume', VolumeResponse)
  @Get(':id')
  @Roles(...READERS)
  async get(@Param('id', ID) id: string, @CurrentPrincipal() p: Principal) {
    return this.volumes.view(id, p);
  }

  @ApiCommand('Grow a volume', 'Grow only (a smaller size is a 422); an attached volume of a running VM grows live')
  @Patch(':id')
  @Roles(...MUTATORS)
  async resize(
    @Param('id', ID) id: string,
    @Body() body: ResizeVolumeDto,
    @CurrentPrincipal() p: Principal,
    @Res({ passthrough: true }) res: Response,
  ) {
    return accepted(
      res,
      await this.volumes.resize(id, body.sizeGiB, { principal: p, ...(body.reason ? { reason: body.reason } : {}) }),
    );
  }

  @ApiCommand('Delete a volume', 'Refused while attached (409); the file is removed by a job on its host')
  @ApiQuery({ name: 'reason', required: false, description: REASON_DOC })
  @Delete(':id')
  @Roles(...MUTATORS)
  async remove(
    @Param('id', ID) id: string,
    @CurrentPrincipal() p: Principal,
    @Res({ passthrough: true }) res: Response,
    @Query('reason') reason?: string,
  ) {
    return accepted(res, await this.volumes.delete(id, { principal: p, ...(reason ? { reason } : {}) }));
  }
}
