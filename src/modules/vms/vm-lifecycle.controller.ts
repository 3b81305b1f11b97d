import { Body, Controller, Headers, Param, Post, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { CurrentPrincipal } from '../../http/auth/principal.decorator.js';
import { MUTATORS, Roles, type Principal } from '../../http/auth/roles.js';
import { MigrationDto } from './dto/migration.dto.js';
import { ReasonDto } from '../../http/reason.dto.js';
import { ApiVmCommand } from '../../http/openapi/decorators.js';
import { StopVmDto } from './dto/stop-vm.dto.js';
import { VmsService } from './vms.service.js';
import { accepted, commandContext, vmId } from './vm-command.http.js';

/** The lifecycle verbs on one VM (start, stop, reboot, pause, resume) and its migration: each a 202 + operation. */
@ApiTags('vms')
@ApiBearerAuth()
@Controller('v1/vms')
export class VmLifecycleController {
  constructor(private readonly vms: VmsService) {}

  @ApiVmCommand('Start a VM')
  @Post(':id/start')
  @Roles(...MUTATORS)
  async start(
    @Param('id', vmId) id: string,
    @Body() body: ReasonDto,
    @CurrentPrincipal() p: Principal,
    @Res({ passthrough: true }) res: Response,
    @Headers('if-match') ifMatch?: string,
  ) {
    return accepted(
      res,
      await this.vms.act(
        id,
        (operationId) => ({ type: 'StartVm', operationId, by: p.id }),
        commandContext(p, body.reason, ifMatch),
      ),
    );
  }

  @ApiVmCommand('Stop a VM (graceful, or forced at once)')
  @Post(':id/stop')
  @Roles(...MUTATORS)
  async stop(
    @Param('id', vmId) id: string,
    @Body() body: StopVmDto,
    @CurrentPrincipal() p: Principal,
    @Res({ passthrough: true }) res: Response,
    @Headers('if-match') ifMatch?: string,
  ) {
    return accepted(
      res,
      await this.vms.act(
        id,
        (operationId) => ({
          type: 'StopVm',
          operationId,
          force: body.force ?? false,
          by: p.id,
          ...(body.timeoutMs !== undefined ? { timeoutMs: body.timeoutMs } : {}),
        }),
        commandContext(p, body.reason, ifMatch),
      ),
    );
  }

  @ApiVmCommand('Reboot a VM')
  @Post(':id/reboot')
  @Roles(...MUTATORS)
  async reboot(
    @Param('id', vmId) id: string,
    @Body() body: ReasonDto,
    @CurrentPrincipal() p: Principal,
    @Res({ passthrough: true }) res: Response,
    @Headers('if-match') ifMatch?: string,
  ) {
    return accepted(
      res,
      await this.vms.act(
        id,
        (operationId, capabilities) => ({ type: 'RebootVm', operationId, capabilities }),
        commandContext(p, body.reason, ifMatch),
      ),
    );
  }

  @ApiVmCommand('Pause a VM')
  @Post(':id/pause')
  @Roles(...MUTATORS)
  async pause(
    @Param('id', vmId) id: string,
    @Body() body: ReasonDto,
    @CurrentPrincipal() p: Principal,
    @Res({ passthrough: true }) res: Response,
    @Headers('if-match') ifMatch?: string,
  ) {
    return accepted(
      res,
      await this.vms.act(
        id,
        (operationId, capabilities) => ({ type: 'PauseVm', operationId, capabilities }),
        commandContext(p, body.reason, ifMatch),
      ),
    );
  }

  @ApiVmCommand('Resume a paused VM')
  @Post(':id/resume')
  @Roles(...MUTATORS)
  async resume(
    @Param('id', vmId) id: string,
    @Body() body: ReasonDto,
    @CurrentPrincipal() p: Principal,
    @Res({ passthrough: true }) res: Response,
    @Headers('if-match') ifMatch?: string,
  ) {
    return accepted(
      res,
      await this.vms.act(
        id,
        (operationId, capabilities) => ({ type: 'ResumeVm', operationId, capabilities }),
        commandContext(p, body.reason, ifMatch),
      ),
    );
  }

  @ApiVmCommand('Migrate a VM to another host (live or cold)')
  @Post(':id/migrations')
  @Roles(...MUTATORS)
  async migrate(
    @Param('id', vmId) id: string,
    @Body() body: MigrationDto,
    @CurrentPrincipal() p: Principal,
    @Res({ passthrough: true }) res: Response,
    @Headers('if-match') ifMatch?: string,
  ) {
    return accepted(
      res,
      await this.vms.migrate(
        id,
        body.targetHostId,
        body.live ?? true,
        commandContext(p, body.reason, ifMatch),
        body.hostSelector,
      ),
    );
  }
}
