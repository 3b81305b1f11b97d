import { Module, type DynamicModule } from '@nestjs/common';
import { APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { IdempotencyInterceptor } from './http/idempotency.interceptor.js';
import { rateLimitWiring } from './http/rate-limit.module.js';
import { AuditController } from './modules/audit/audit.controller.js';
import { EventsController } from './modules/audit/events.controller.js';
import { AuthGuard } from './http/auth/auth.guard.js';
import { TokenVerifier } from './http/auth/token-verifier.js';
import { HealthController } from './modules/health/health.controller.js';
import { HostsController } from './modules/hosts/hosts.controller.js';
import { OperationsController } from './modules/operations/operations.controller.js';
import { ProjectionsController } from './modules/projections/projections.controller.js';
import { ReplayCheckController } from './modules/audit/replay-check.controller.js';
import { SealsController } from './modules/audit/seals.controller.js';
import { VmsController } from './modules/vms/vms.controller.js';
import { VmsService } from './modules/vms/vms.service.js';
import type { Runtime } from './runtime/runtime.js';
import { RUNTIME } from './runtime/runtime.token.js';

/** The HTTP surface over an already-built runtime (so tests and main share one wiring). */
@Module({})
export class AppModule {
  static forRuntime(runtime: Runtime): DynamicModule {
    const rateLimit = rateLimitWiring(runtime.config);
    return {
      module: AppModule,
      imports: [TerminusModule.forRoot({ logger: false }), ...rateLimit.imports],
      controllers: [
        HostsController,
        VmsController,
        OperationsController,
        EventsController,
        AuditController,
        HealthController,
        ProjectionsController,
        ReplayCheckController,
        SealsController,
      ],
      providers: [
        { provide: RUNTIME, useValue: runtime },
        { provide: TokenVerifier, useValue: new TokenVerifier(runtime.tokens) },
        ...rateLimit.guards,
        { provide: APP_GUARD, useClass: AuthGuard },
        { provide: APP_INTERCEPTOR, useClass: IdempotencyInterceptor },
        VmsService,
      ],
    };
  }
}
