import { Controller, Get, Header, Inject } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { ApiTags } from '@nestjs/swagger';
import type { Runtime } from '../../runtime/runtime.js';
import { RUNTIME } from '../../runtime/runtime.token.js';
import { Public } from '../../http/auth/roles.js';

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

@ApiTags('health')
@Controller()
export class HealthController {
  constructor(
    @Inject(RUNTIME) private readonly rt: Runtime,
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
  ) {}

  @Get('health')
  @Public()
  @HealthCheck()
  check() {
    return this.health.check([
      async () => {
        const s = this.indicators.check('redis');
        try {
          await this.rt.redis.ping();
          return s.up();
        } catch (err) {
          return s.down({ message: reason(err) });
        }
      },
      async () => {
        const s = this.indicators.check('store');
        if (!this.rt.store) return s.up({ role: 'worker: no event store' });
        try {
          await this.rt.store.ping();
          return s.up({ kind: this.rt.store.kind });
        } catch (err) {
          return s.down({ message: reason(err) });
        }
      },
      async () => {
        const s = this.indicators.check('subscriptions');
        if (!this.rt.store) return s.up();
        const head = (await this.rt.store.headPosition()) ?? 0n;
        const lag: Record<string, string> = {};
        for (const p of this.rt.projections) lag[p.projection.name] = (head - (p.position ?? 0n)).toString();
        if (this.rt.sagas) lag.sagas = (head - (this.rt.sagas.position ?? 0n)).toString();
        return s.up({ head: head.toString(), lag });
      },
      async () => {
        const s = this.indicators.check('workers');
        const hosts = [...this.rt.pool.workers.keys()];
        return s.up({ hosts });
      },
    ]);
  }

  @Get('metrics')
  @Public()
  @Header('Content-Type', 'text/plain; version=0.0.4')
  async metrics(): Promise<string> {
    const m = this.rt.metrics;
    try {
      for (const id of this.rt.pool.workers.keys()) m.queueDepth.set({ host: id }, await this.rt.hub.depth(id));
      if (this.rt.store) {
        const head = (await this.rt.store.headPosition()) ?? 0n;
        for (const p of this.rt.projections)
          m.projectionLag.set({ subscription: p.projection.name }, Number(head - (p.position ?? 0n)));
        if (this.rt.sagas)
          m.projectionLag.set({ subscription: 'sagas' }, Number(head - (this.rt.sagas.position ?? 0n)));
      }
    } catch {
      // A scrape still answers with what it has when Redis or the store is down.
    }
    return m.registry.metrics();
  }
}
