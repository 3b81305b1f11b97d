import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiQuery, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal } from '../../http/auth/principal.decorator.js';
import { AUDITORS, Roles, type Principal } from '../../http/auth/roles.js';
import { badField, parseDiffRange, POINT_DOC } from '../../http/as-of.query.js';
import { parseRevisionNumber, REVISION_HINT } from '../../http/point-in-time.js';
import { ApiAnswer } from '../../http/openapi/decorators.js';
import { VmDiffResponse } from './dto/vm-diff.response.js';
import { WhyResponse } from './dto/why.response.js';
import { VmHistoryService } from './vm-history.service.js';
import { vmId } from './vm-command.http.js';

/** A VM's history beyond its current state: what changed between two points, and why one change happened. */
@ApiTags('vms')
@ApiBearerAuth()
@Controller('v1/vms')
export class VmHistoryController {
  constructor(private readonly history: VmHistoryService) {}

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
    @Param('id', vmId) id: string,
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
  async why(@Param('id', vmId) id: string, @CurrentPrincipal() p: Principal, @Query('revision') revision?: unknown) {
    let rev: bigint | undefined;
    if (revision !== undefined) {
      const parsed = typeof revision === 'string' ? parseRevisionNumber(revision) : null;
      if (parsed === null) throw badField('revision', REVISION_HINT);
      rev = parsed;
    }
    return this.history.why(id, p, rev);
  }
}
