import { Global, Module, type DynamicModule } from '@nestjs/common';
import {
  AGGREGATES,
  CAPABILITIES,
  CLOCK,
  CONFIG,
  EVENT_STORE,
  HOST_QUERIES,
  IDEMPOTENCY,
  LOGGER,
  METRICS,
  PROJECTIONS,
  QUEUES,
  READ_MODELS,
  SEAL_AUDIT,
  STATUS,
  type HttpPorts,
} from './tokens.js';

/** The ports as global providers, so every feature module injects them by token and imports no other module. */
@Global()
@Module({})
export class PortsModule {
  static forRoot(ports: HttpPorts): DynamicModule {
    const providers = [
      { provide: CONFIG, useValue: ports.config },
      { provide: LOGGER, useValue: ports.log },
      { provide: CLOCK, useValue: ports.clock },
      { provide: EVENT_STORE, useValue: ports.store },
      { provide: AGGREGATES, useValue: ports.aggregates },
      { provide: SEAL_AUDIT, useValue: ports.sealAudit },
      { provide: READ_MODELS, useValue: ports.readModels },
      { provide: CAPABILITIES, useValue: ports.capabilities },
      { provide: HOST_QUERIES, useValue: ports.hostQueries },
      { provide: QUEUES, useValue: ports.queues },
      { provide: PROJECTIONS, useValue: ports.projections },
      { provide: METRICS, useValue: ports.metrics },
      { provide: IDEMPOTENCY, useValue: ports.idempotency },
      { provide: STATUS, useValue: ports.status },
    ];
    return { module: PortsModule, providers, exports: providers.map((p) => p.provide) };
  }
}
