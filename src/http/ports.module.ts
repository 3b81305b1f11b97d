import { Global, Module, type DynamicModule } from '@nestjs/common';
import { FleetHistory } from '../projections/fleet-history.js';
import { ReadYourWrites } from './read-your-writes.js';
import {
  AGGREGATES,
  CAPABILITIES,
  CLOCK,
  CONFIG,
  EVENT_STORE,
  HOST_QUERIES,
  CONSOLES,
  ABORTS,
  IDEMPOTENCY,
  LOGGER,
  METRICS,
  PROJECTIONS,
  QUEUES,
  READ_MODELS,
  SEAL_AUDIT,
  FLEET_HISTORY,
  READ_YOUR_WRITES,
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
      { provide: CONSOLES, useValue: ports.consoles },
      { provide: ABORTS, useValue: ports.aborts },
      { provide: QUEUES, useValue: ports.queues },
      { provide: PROJECTIONS, useValue: ports.projections },
      { provide: METRICS, useValue: ports.metrics },
      { provide: IDEMPOTENCY, useValue: ports.idempotency },
      { provide: STATUS, useValue: ports.status },
      // Built here, not in the runtime: it needs only the store, and its checkpoints live as long as the app.
      { provide: FLEET_HISTORY, useValue: new FleetHistory(ports.store) },
      // One per app, i.e. per process: what this process accepted, for its own reads. Reads wait at most
      // READ_MODEL_WAIT_MS (3 s at most: the deadline the 202 itself used to wait) for a write.
      {
        provide: READ_YOUR_WRITES,
        useValue: new ReadYourWrites(ports.projections, Math.min(3000, ports.config.readModelWaitMs)),
      },
    ];
    return { module: PortsModule, providers, exports: providers.map((p) => p.provide) };
  }
}
