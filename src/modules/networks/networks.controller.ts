import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  NotFoundException,
  Param,
  ParseUUIDPipe,
  Post,
  Query,
  Res,
} from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { CurrentPrincipal } from '../../http/auth/principal.decorator.js';
import { mustSeeAllProjects } from '../../http/auth/project-scope.js';
import { READERS, Roles, type Principal } from '../../http/auth/roles.js';
import { ApiAnswer, ApiPage } from '../../http/openapi/decorators.js';
import { parseCursor, parseLimit } from '../../http/query.js';
import { REASON_DOC } from '../../http/reason.dto.js';
import { CreateNetworkDto } from './dto/create-network.dto.js';
import { NetworkPage, NetworkResponse } from './dto/network.response.js';
import type { NetworkView } from './network.view.js';
import { NetworksService } from './networks.service.js';

const uuid = new ParseUUIDPipe({
  version: '4',
  exceptionFactory: () => new NotFoundException('network not found: the id is not a network id'),
});

/**
 * Networks are infrastructure shared by every project (like the image catalog): a tenant that
 * could create or delete one would choose addressing other tenants' VMs live in. So only a
 * principal of every project changes them; every reader lists them and attaches VMs.
 */
function mustSeeAll(p: Principal): void {
  mustSeeAllProjects(p, 'change networks', 'they are shared by every project', 'an admin (or a user of all projects)');
}

@ApiTags('networks')
@ApiBearerAuth()
@Controller('v1/networks')
export class NetworksController {
  constructor(private readonly networks: NetworksService) {}

  /** 400 naming `cidr` for a bad one; 409 naming the other network when it overlaps a live one or takes its name. */
  @ApiAnswer('Create a network', NetworkResponse, {
    status: 201,
    description: 'Created',
    headers: { Location: { description: 'The network: /v1/networks/{id}', schema: { type: 'string' } } },
  })
  @Post()
  @Roles('operator')
  async create(
    @Body() body: CreateNetworkDto,
    @CurrentPrincipal() p: Principal,
    @Res({ passthrough: true }) res: Response,
  ): Promise<NetworkView> {
    mustSeeAll(p);
    const view = await this.networks.create(body, p, body.reason);
    res.status(201).location(`/v1/networks/${view.id}`);
    return view;
  }

  @ApiAnswer('List networks', NetworkPage)
  @ApiPage()
  @Get()
  @Roles(...READERS)
  async list(@CurrentPrincipal() p: Principal, @Query('cursor') cursor?: string, @Query('limit') limit?: string) {
    return this.networks.list(p, parseCursor(cursor), parseLimit(limit));
  }

  @ApiAnswer('Read a network: addressing, free addresses and allocations', NetworkResponse)
  @Get(':id')
  @Roles(...READERS)
  async get(@Param('id', uuid) id: string, @CurrentPrincipal() p: Principal): Promise<NetworkView> {
    return this.networks.view(id, p);
  }

  /** Refused (409, naming the VMs) while any VM holds an address on it. */
  @ApiOperation({ summary: 'Delete a network' })
  @ApiResponse({ status: 204, description: 'Deleted: no body' })
  @ApiQuery({ name: 'reason', required: false, description: REASON_DOC })
  @Delete(':id')
  @Roles('operator')
  @HttpCode(204)
  async delete(
    @Param('id', uuid) id: string,
    @CurrentPrincipal() p: Principal,
    @Query('reason') reason?: string,
  ): Promise<void> {
    mustSeeAll(p);
    await this.networks.delete(id, p, reason);
  }
}
