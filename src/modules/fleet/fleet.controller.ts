import { Controller, Get, Inject, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiQuery, ApiTags } from '@nestjs/swagger';
import { ApiAnswer } from '../../http/openapi/decorators.js';
import { READERS, Roles, type Principal } from '../../http/auth/roles.js';
import { CurrentPrincipal } from '../../http/auth/principal.decorator.js';
import { mayUse } from '../../http/auth/project-scope.js';
import { vmProject } from '../../domain/vm/vm.state.js';
import { FLEET_AT_DOC, fleetAt, parseFleetAt } from '../../http/fleet-point.js';
import { FLEET_HISTORY } from '../../http/tokens.js';
import type { FleetHistory } from '../../projections/fleet-history.js';
import { FleetResponse } from './dto/fleet.response.js';
import { toFleetView, type FleetView } from './fleet.view.js';

@ApiTags('fleet')
@ApiBearerAuth()
@Controller('v1/fleet')
export class FleetController {
  constructor(@Inject(FLEET_HISTORY) private readonly history: FleetHistory) {}

  /**
   * Every host with the VMs it ran and the operations in flight (with their
   * principals), now or at `?at=`. Same roles as GET /v1/vms/{id}?at=.
   */
  @ApiAnswer('The fleet now or at an instant: hosts, their VMs, operations in flight', FleetResponse)
  @Get()
  @Roles(...READERS)
  @ApiQuery({ name: 'at', required: false, description: `${FLEET_AT_DOC}; default: now` })
  async get(@CurrentPrincipal() p: Principal, @Query('at') at?: unknown): Promise<FleetView> {
    const point = parseFleetAt(at) ?? { kind: 'time' as const, at: new Date(8.64e15) };
    // A tenant sees the hosts (infrastructure, as in GET /v1/hosts) but only its projects' VMs and operations.
    const view = toFleetView(await fleetAt(this.history, point), (v) => mayUse(p, vmProject(v.state)));
    return at === undefined ? { ...view, asOf: { ...view.asOf, at: null } } : view;
  }
}
