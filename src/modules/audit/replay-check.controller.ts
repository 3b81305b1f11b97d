import { Controller, Get, Inject } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { ApiAnswer } from '../../http/openapi/decorators.js';
import { ReplayCheckResponse } from './dto/audit.response.js';
import { PROJECTIONS, type ProjectionControl } from '../../http/tokens.js';
import { CurrentPrincipal } from '../../http/auth/principal.decorator.js';
import { AUDITORS, Roles, type Principal } from '../../http/auth/roles.js';
import { mustSeeWholeLog } from './event-scope.js';
import type { ReplayCheckReport } from '../../projections/replay-check.js';

@ApiTags('audit')
@ApiBearerAuth()
@Controller('v1/audit')
export class ReplayCheckController {
  constructor(@Inject(PROJECTIONS) private readonly projections: ProjectionControl) {}

  /** Rebuilds every read model in a shadow namespace and lists each difference from the live one. */
  @ApiAnswer('Replay the log into shadow read models and compare with the live ones', ReplayCheckResponse)
  @Get('replay-check')
  @Roles(...AUDITORS)
  async check(@CurrentPrincipal() p: Principal): Promise<ReplayCheckReport> {
    // Its differences carry live and replayed records of every project.
    mustSeeWholeLog(p, 'run a replay check');
    return this.projections.replayCheck();
  }
}
