import {
  Body,
  Controller,
  Delete,
  Get,
  NotFoundException,
  Param,
  ParseUUIDPipe,
  Post,
  Query,
  Res,
} from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { badField } from '../../http/as-of.query.js';
import { CurrentPrincipal } from '../../http/auth/principal.decorator.js';
import { MUTATORS, READERS, Roles, type Principal } from '../../http/auth/roles.js';
import { ApiAnswer } from '../../http/openapi/decorators.js';
import { CreatePlacementGroupDto } from './dto/placement-group.dto.js';
import { PlacementGroupPage, PlacementGroupResponse } from './dto/placement-group.response.js';
import type { PlacementGroupView } from './placement-group.view.js';
import { PlacementGroupsService } from './placement-groups.service.js';

const uuid = new ParseUUIDPipe({
  version: '4',
  exceptionFactory: () => new NotFoundException('placement group not found: the id is not a placement group id'),
});

@ApiTags('placement-groups')
@ApiBearerAuth()
@Controller('v1/placement-groups')
export class PlacementGroupsController {
  constructor(private readonly groups: PlacementGroupsService) {}

  @ApiAnswer('Create a placement group (affinity or anti-affinity, hard or soft)', PlacementGroupResponse, {
    status: 201,
    description: 'Created',
    headers: { Location: { description: 'The group: /v1/placement-groups/{id}', schema: { type: 'string' } } },
  })
  @Post()
  @Roles(...MUTATORS)
  async create(
    @Body() body: CreatePlacementGroupDto,
    @CurrentPrincipal() p: Principal,
    @Res({ passthrough: true }) res: Response,
  ): Promise<PlacementGroupView> {
    const view = await this.groups.create(body, p);
    res.status(201).location(`/v1/placement-groups/${view.id}`);
    return view;
  }

  @ApiAnswer("List placement groups (the caller's projects')", PlacementGroupPage)
  @Get()
  @Roles(...READERS)
  async list(@CurrentPrincipal() p: Principal): Promise<{ items: PlacementGroupView[]; next: null }> {
    return { items: await this.groups.list(p), next: null };
  }

  @ApiAnswer('Read a placement group and its members', PlacementGroupResponse)
  @Get(':id')
  @Roles(...READERS)
  async get(@Param('id', uuid) id: string, @CurrentPrincipal() p: Principal): Promise<PlacementGroupView> {
    return this.groups.view(id, p);
  }

  @ApiAnswer('Delete a placement group without members (409 naming them otherwise)', PlacementGroupResponse, {
    description: 'Deleted: the group as it was',
  })
  @Delete(':id')
  @Roles(...MUTATORS)
  async remove(
    @Param('id', uuid) id: string,
    @CurrentPrincipal() p: Principal,
    @Query('reason') reason?: string,
  ): Promise<PlacementGroupView> {
    if (reason !== undefined && reason.length > 500) throw badField('reason', 'must be at most 500 characters');
    return this.groups.remove(id, p, reason);
  }
}
