import { Module, type DynamicModule } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AuthGuard } from '../http/auth/auth.guard.js';
import { TokenVerifier } from '../http/auth/token-verifier.js';
import { IdempotencyInterceptor } from '../http/idempotency.interceptor.js';
import { UnknownQueryGuard } from '../http/unknown-query.guard.js';
import { bindToCommands } from '../http/command-routes.js';
import { PortsModule } from '../http/ports.module.js';
import { rateLimitWiring } from '../http/rate-limit.module.js';
import type { HttpPorts } from '../http/tokens.js';
import { AuditModule } from '../modules/audit/audit.module.js';
import { FleetModule } from '../modules/fleet/fleet.module.js';
import { QueuesModule } from '../modules/queues/queues.module.js';
import { HealthModule } from '../modules/health/health.module.js';
import { HostsModule } from '../modules/hosts/hosts.module.js';
import { ImagesModule } from '../modules/images/images.module.js';
import { NetworksModule } from '../modules/networks/networks.module.js';
import { OperationsModule } from '../modules/operations/operations.module.js';
import { ProjectionsModule } from '../modules/projections/projections.module.js';
import { ProjectsModule } from '../modules/projects/projects.module.js';
import { PlacementGroupsModule } from '../modules/placement-groups/placement-groups.module.js';
import { VmsModule } from '../modules/vms/vms.module.js';
import { ConsoleModule } from '../modules/console/console.module.js';
import { VolumesModule } from '../modules/volumes/volumes.module.js';

/** The HTTP surface over the ports a runtime built (so tests and main share one wiring). */
@Module({})
export class AppModule {
  static forRoot(ports: HttpPorts): DynamicModule {
    const rateLimit = rateLimitWiring(ports.config, ports.rateLimitStorage);
    const features = [
      HostsModule,
      VmsModule,
      ConsoleModule,
      ImagesModule,
      NetworksModule,
      VolumesModule,
      OperationsModule,
      AuditModule,
      HealthModule,
      ProjectionsModule,
      FleetModule,
      ProjectsModule,
      QueuesModule,
      PlacementGroupsModule,
    ];
    // On POST and DELETE routes only, where it acts: a global interceptor would put every read through Nest's RxJS chain.
    bindToCommands(features, IdempotencyInterceptor);
    return {
      module: AppModule,
      imports: [PortsModule.forRoot(ports), ...rateLimit.imports, ...features],
      providers: [
        { provide: TokenVerifier, useValue: new TokenVerifier(ports.tokens) },
        ...rateLimit.guards,
        { provide: APP_GUARD, useClass: AuthGuard },
        // The last guard, so before the idempotency claim (an interceptor): a refused query claims nothing.
        { provide: APP_GUARD, useClass: UnknownQueryGuard },
      ],
    };
  }
}
