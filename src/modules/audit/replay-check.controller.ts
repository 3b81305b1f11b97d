import { Controller, Get, Inject } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { Runtime } from '../../runtime/runtime.js';
import { RUNTIME } from '../../runtime/runtime.token.js';
import { AUDITORS, Roles } from '../../http/auth/roles.js';
import { replayCheck, type ReplayCheckReport } from '../../projections/replay-check.js';

@ApiTags('audit')
@ApiBearerAuth()
@Controller('v1/audit')
export class ReplayCheckController {
  constructor(@Inject(RUNTIME) private readonly rt: Runtime) {}

  /** Rebuilds every read model in a shadow namespace and lists each difference from the live one. */
  @Get('replay-check')
  @Roles(...AUDITORS)
  async check(): Promise<ReplayCheckReport> {
    // Only the control plane (role api/all) serves HTTP, and it always has the store and the projections.
    return replayCheck(
      {
        store: this.rt.store!,
        redis: this.rt.redis,
        keys: this.rt.keys,
        log: this.rt.log,
        runner: (name) => this.rt.projection(name),
        waitForOperations: (position) => this.rt.waitForProjections(position, 3000, ['vms']),
      },
      this.rt.projections,
    );
  }
}
