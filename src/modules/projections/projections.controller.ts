import { Body, Controller, Get, HttpCode, Inject, Param, Post, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ApiAnswer } from '../../http/openapi/decorators.js';
import { ProjectionList, RebuildAccepted } from './dto/projection.response.js';
import type { Response } from 'express';
import { CurrentPrincipal } from '../../http/auth/principal.decorator.js';
import { READERS, Roles, type Principal } from '../../http/auth/roles.js';
import { PROJECTIONS, type ProjectionControl } from '../../http/tokens.js';
import { RebuildDto } from './rebuild.dto.js';

export interface ProjectionView {
  name: string;
  /** Last log position applied (decimal string), null before the first event. */
  position: string | null;
}

@ApiTags('projections')
@ApiBearerAuth()
@Controller('v1/projections')
export class ProjectionsController {
  constructor(@Inject(PROJECTIONS) private readonly projections: ProjectionControl) {}

  @ApiAnswer('List the read models and their positions', ProjectionList)
  @Get()
  @Roles(...READERS)
  list(): { items: ProjectionView[] } {
    return {
      items: this.projections.list().map((p) => ({ name: p.name, position: p.position?.toString() ?? null })),
    };
  }

  /** Admin only: rebuild from position 0 in a shadow namespace, swap atomically; 202 with the operation to poll. */
  @ApiOperation({ summary: 'Rebuild a read model from the log (admin)' })
  @HttpCode(202)
  @ApiResponse({
    status: 202,
    description: 'Accepted: follow the rebuild operation',
    type: RebuildAccepted,
    headers: { Location: { description: 'The operation: /v1/operations/{operationId}', schema: { type: 'string' } } },
  })
  @Post(':name/rebuild')
  @Roles()
  async rebuild(
    @Param('name') name: string,
    @Body() body: RebuildDto,
    @CurrentPrincipal() p: Principal,
    @Res({ passthrough: true }) res: Response,
  ): Promise<{ operationId: string; projection: string }> {
    const { operationId } = await this.projections.startRebuild(name, p.id, {
      ...(body.reason ? { reason: body.reason } : {}),
      ...(body.batchSize !== undefined ? { batchSize: body.batchSize } : {}),
      ...(body.pauseMs !== undefined ? { pauseMs: body.pauseMs } : {}),
    });
    res.status(202).location(`/v1/operations/${operationId}`);
    return { operationId, projection: name };
  }
}
