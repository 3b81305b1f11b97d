import { Body, Controller, Get, Inject, Param, Post, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
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

  @Get()
  @Roles(...READERS)
  list(): { items: ProjectionView[] } {
    return {
      items: this.projections.list().map((p) => ({ name: p.name, position: p.position?.toString() ?? null })),
    };
  }

  /** Admin only: rebuild from position 0 in a shadow namespace, swap atomically; 202 with the operation to poll. */
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
