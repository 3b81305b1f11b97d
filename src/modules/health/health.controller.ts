import { Controller, Get, Header, Inject, ServiceUnavailableException } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService, type HealthCheckResult } from '@nestjs/terminus';
import { ApiOperation, ApiProduces, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ApiAnswer } from '../../http/openapi/decorators.js';
import { HealthResponse } from './dto/health.response.js';
import type { EventStore } from '../../eventstore/event-store.port.js';
import { Public } from '../../http/auth/roles.js';
import { errorBody } from '../../http/error-body.js';
import {
  EVENT_STORE,
  METRICS,
  PROJECTIONS,
  QUEUES,
  STATUS,
  type HttpMetrics,
  type ProjectionControl,
  type ProjectionPosition,
  type QueueStats,
  type RuntimeStatus,
} from '../../http/tokens.js';

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

@ApiTags('health')
@Controller()
export class HealthController {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(PROJECTIONS) private readonly projections: ProjectionControl,
    @Inject(QUEUES) private readonly queues: QueueStats,
    @Inject(STATUS) private readonly status: RuntimeStatus,
    @Inject(METRICS) private readonly metricsPort: HttpMetrics,
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
  ) {}

  /** Every subscription of the log with its position: the projections, then the saga runner. */
  private subscriptions(): ProjectionPosition[] {
    return [...this.projections.list(), ...this.status.subscriptions()];
  }

  @ApiAnswer('Liveness and readiness of the process and its dependencies', HealthResponse)
  @Get('health')
  @Public()
  @HealthCheck({ noCache: true, swaggerDocumentation: false })
  async check(): Promise<HealthCheckResult> {
    try {
      return await this.probe();
    } catch (err) {
      if (!(err instanceof ServiceUnavailableException)) throw err;
      // Terminus's 503 carries which check is down and why; keep it in the v1 error shape.
      const result = err.getResponse() as HealthCheckResult;
      const down = Object.entries(result.error ?? {})
        .map(([name, v]) => `${name}: ${typeof v?.message === 'string' ? v.message : 'down'}`)
        .join('; ');
      throw new ServiceUnavailableException(errorBody(503, `unhealthy: ${down}`, result.details));
    }
  }

  private probe(): Promise<HealthCheckResult> {
    return this.health.check([
      async () => {
        const s = this.indicators.check('redis');
        try {
          await this.status.pingRedis();
          return s.up();
        } catch (err) {
          return s.down({ message: reason(err) });
        }
      },
      async () => {
        const s = this.indicators.check('store');
        try {
          await this.store.ping();
          return s.up({ kind: this.store.kind });
        } catch (err) {
          return s.down({ message: reason(err) });
        }
      },
      async () => {
        const s = this.indicators.check('subscriptions');
        const head = (await this.store.headPosition()) ?? 0n;
        const lag: Record<string, string> = {};
        for (const p of this.subscriptions()) lag[p.name] = (head - (p.position ?? 0n)).toString();
        // Poison events a runner parked and went past: everything else is applied, so the
        // process stays up (a restart would not help) but says it is degraded, and by what.
        const parked = this.status.parked();
        const total = Object.values(parked).reduce((a, b) => a + b, 0);
        // Several API processes: which one runs the once-per-cluster roles (the others read its checkpoints).
        const lease = this.status.lease?.();
        const base = { head: head.toString(), lag, ...(lease ? { lease } : {}) };
        if (total > 0) return s.up({ ...base, degraded: true, parked });
        return s.up(base);
      },
      async () => {
        // Results workers posted and the control plane has not recorded: dead letters need an operator
        // (GET /v1/queues/results/dead), so they make the process degraded, not down (a restart would not help).
        const s = this.indicators.check('results');
        try {
          const counts = await this.queues.resultCounts();
          return counts.deadLettered > 0 ? s.up({ ...counts, degraded: true }) : s.up({ ...counts });
        } catch (err) {
          return s.down({ message: reason(err) });
        }
      },
      () => {
        const s = this.indicators.check('workers');
        const hosts = this.status.servedHosts();
        const degraded = this.status.hostServing();
        if (degraded) return s.down({ hosts, message: degraded.reason, since: degraded.since });
        return s.up({ hosts });
      },
    ]);
  }

  @ApiOperation({ summary: 'Prometheus metrics' })
  @ApiProduces('text/plain')
  @ApiResponse({
    status: 200,
    description: 'Prometheus text exposition format 0.0.4',
    content: { 'text/plain': { schema: { type: 'string' } } },
  })
  @Get('metrics')
  @Public()
  @Header('Content-Type', 'text/plain; version=0.0.4')
  async metrics(): Promise<string> {
    const m = this.metricsPort;
    try {
      for (const id of this.status.servedHosts()) m.setQueueDepth(id, await this.queues.depth(id));
      const head = (await this.store.headPosition()) ?? 0n;
      for (const p of this.subscriptions()) m.setLag(p.name, Number(head - (p.position ?? 0n)));
      // Parked poison events are counted by the runners themselves (registered on the same registry at merge).
    } catch {
      // A scrape still answers with what it has when Redis or the store is down.
    }
    // Apart from the store's head: results keep being counted while the store is down.
    await this.queues.resultCounts().then(
      (c) => m.setResults(c),
      () => undefined,
    );
    return m.render();
  }
}
