import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { HttpMetrics } from '../http/tokens.js';

/** prom-client registry of this process; one per runtime so tests don't share counters. */
export class Metrics implements HttpMetrics {
  readonly registry = new Registry();
  readonly commands = new Counter({
    name: 'virtledger_commands_total',
    help: 'Commands decided, by type and outcome',
    labelNames: ['command', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly commandSeconds = new Histogram({
    name: 'virtledger_command_duration_seconds',
    help: 'Read-decide-append latency per command type',
    labelNames: ['command'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: 'virtledger_queue_depth',
    help: 'Jobs waiting, delayed or running per host queue',
    labelNames: ['host'] as const,
    registers: [this.registry],
  });
  readonly projectionLag = new Gauge({
    name: 'virtledger_projection_lag',
    help: 'Global positions between the head of the log and each subscription',
    labelNames: ['subscription'] as const,
    registers: [this.registry],
  });
  readonly httpRequests = new Counter({
    name: 'virtledger_http_requests_total',
    help: 'HTTP requests by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'virtledger_' });
  }

  observeCommand(command: string, ms: number, ok: boolean): void {
    this.commands.inc({ command, outcome: ok ? 'accepted' : 'refused' });
    this.commandSeconds.observe({ command }, ms / 1000);
  }

  observeRequest(method: string, route: string, status: number): void {
    this.httpRequests.inc({ method, route, status: String(status) });
  }

  setQueueDepth(hostId: string, depth: number): void {
    this.queueDepth.set({ host: hostId }, depth);
  }

  setLag(subscription: string, lag: number): void {
    this.projectionLag.set({ subscription }, lag);
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}
