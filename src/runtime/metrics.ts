import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ResultCounts } from '../application/jobs.js';
import type { HttpMetrics } from '../http/tokens.js';
import { registerDefaultMetrics } from './metrics-defaults.js';
import type { Census, ReadModelCensus } from './metrics-census.js';

/** Seconds, from a millisecond up to the longest driver calls (migrations, image copies). */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

/**
 * prom-client registry of this process; one per runtime so tests don't share counters.
 * Every family is registered in every role (a family with no sample is still listed);
 * each role feeds the ones it runs: the API commands, HTTP, the store and the read-model
 * gauges; a worker driver calls and jobs.
 */
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
  // The results stream workers post to, read at scrape time (set by the API: every API process reports the same stream).
  readonly resultsPending = new Gauge({
    name: 'virtledger_results_pending',
    help: 'Results read by a control plane and not acknowledged: being recorded, or failed and waiting to be taken again',
    registers: [this.registry],
  });
  readonly resultsWaiting = new Gauge({
    name: 'virtledger_results_waiting',
    help: 'Results posted by workers and not read by any control plane yet',
    registers: [this.registry],
  });
  readonly resultsDeadLettered = new Gauge({
    name: 'virtledger_results_dead_lettered',
    help: 'Results given up after every delivery, waiting for an operator (virtledger queue dead-results)',
    registers: [this.registry],
  });
  private lease: (() => { owner: boolean; fence?: number }) | undefined;
  /** Several API processes: which one runs the once-per-cluster roles (exactly one should say 1). */
  readonly leaseOwner = new Gauge({
    name: 'virtledger_control_plane_owner',
    help: '1 while this API process owns the control-plane lease (sagas, projections, sealer, host watch), 0 while a standby',
    registers: [this.registry],
    collect: () => {
      if (this.lease) this.leaseOwner.set(this.lease().owner ? 1 : 0);
    },
  });
  readonly httpRequests = new Counter({
    name: 'virtledger_http_requests_total',
    help: 'HTTP requests by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  readonly httpSeconds = new Histogram({
    name: 'virtledger_http_request_duration_seconds',
    help: 'HTTP request duration by method, route template and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly appendSeconds = new Histogram({
    name: 'virtledger_store_append_duration_seconds',
    help: 'Event store append latency by store kind and outcome (ok, conflict, error)',
    labelNames: ['store', 'outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly driverSeconds = new Histogram({
    name: 'virtledger_driver_call_duration_seconds',
    help: 'Hypervisor driver call latency by driver, verb and outcome (ok, error)',
    labelNames: ['driver', 'verb', 'outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly jobRetries = new Counter({
    name: 'virtledger_job_retries_total',
    help: 'Job attempts that failed and will be retried, by host and step',
    labelNames: ['host', 'step'] as const,
    registers: [this.registry],
  });
  readonly jobFailures = new Counter({
    name: 'virtledger_job_failures_total',
    help: 'Jobs that failed for good (attempts exhausted, a permanent error or the deadline), by host and step',
    labelNames: ['host', 'step'] as const,
    registers: [this.registry],
  });
  /** Console sessions this API process relays (see countConsoleSessions). */
  private consoleSessionCount: (() => number) | undefined;
  readonly consoleSessions = new Gauge({
    name: 'virtledger_console_sessions',
    help: 'Serial console sessions (WebSockets) open through this API process',
    registers: [this.registry],
    collect: () => {
      if (this.consoleSessionCount) this.consoleSessions.set(this.consoleSessionCount());
    },
  });
  /** Set by the control plane only (see attachReadModels). */
  private census: ReadModelCensus | undefined;
  // Read-model gauges: counted at scrape time from the census.
  readonly operations: Gauge<'kind' | 'status'> = new Gauge({
    name: 'virtledger_operations',
    help: 'Operations in the read model by kind and status',
    labelNames: ['kind', 'status'] as const,
    registers: [this.registry],
    collect: () =>
      this.fill(this.operations, (c, set) => {
        for (const o of c.operations) set({ kind: o.kind, status: o.status }, o.count);
      }),
  });
  readonly vms: Gauge<'state'> = new Gauge({
    name: 'virtledger_vms',
    help: 'VMs in the read model by state',
    labelNames: ['state'] as const,
    registers: [this.registry],
    collect: () =>
      this.fill(this.vms, (c, set) => {
        for (const [state, n] of c.vmsByState) set({ state }, n);
      }),
  });
  readonly hostCapacityVcpus = this.hostGauge(
    'virtledger_host_capacity_vcpus',
    'vCPUs a host offers',
    (h) => h.capacity.vcpus,
  );
  readonly hostAllocatedVcpus = this.hostGauge(
    'virtledger_host_allocated_vcpus',
    'vCPUs allocated to VMs on a host',
    (h) => h.allocated.vcpus,
  );
  readonly hostCapacityMemory = this.hostGauge(
    'virtledger_host_capacity_memory_bytes',
    'Memory a host offers',
    (h) => h.capacity.memoryMiB * MIB,
  );
  readonly hostAllocatedMemory = this.hostGauge(
    'virtledger_host_allocated_memory_bytes',
    'Memory allocated to VMs on a host',
    (h) => h.allocated.memoryMiB * MIB,
  );

  constructor() {
    registerDefaultMetrics(this.registry, 'virtledger_');
  }

  /** The API's console relay, counted at scrape time. */
  countConsoleSessions(count: () => number): void {
    this.consoleSessionCount = count;
  }

  private hostGauge(name: string, help: string, pick: (h: HostCensus) => number): Gauge<HostLabel> {
    const gauge: Gauge<HostLabel> = new Gauge({
      name,
      help: `${help}, by host id, name and state`,
      labelNames: ['host', 'name', 'state'] as const,
      registers: [this.registry],
      collect: () =>
        this.fill(gauge, (c, set) => {
          for (const h of c.hosts) set({ host: h.id, name: h.name, state: h.state }, pick(h));
        }),
    });
    return gauge;
  }

  /** Replaces a gauge's samples with the census's (none without one: a worker reports no cluster-wide numbers). */
  private async fill<L extends string>(
    gauge: Gauge<L>,
    write: (c: Census, set: (labels: Partial<Record<L, string>>, v: number) => void) => void,
  ): Promise<void> {
    if (!this.census) return;
    const c = await this.census.take();
    gauge.reset();
    write(c, (labels, v) => gauge.set(labels, v));
  }

  observeCommand(command: string, ms: number, ok: boolean): void {
    this.commands.inc({ command, outcome: ok ? 'accepted' : 'refused' });
    this.commandSeconds.observe({ command }, ms / 1000);
  }

  observeRequest(method: string, route: string, status: number, ms?: number): void {
    const labels = { method, route, status: String(status) };
    this.httpRequests.inc(labels);
    if (ms !== undefined) this.httpSeconds.observe(labels, ms / 1000);
  }

  observeAppend(store: string, ms: number, outcome: 'ok' | 'conflict' | 'error'): void {
    this.appendSeconds.observe({ store, outcome }, ms / 1000);
  }

  observeDriverCall(driver: string, verb: string, ms: number, ok: boolean): void {
    this.driverSeconds.observe({ driver, verb, outcome: ok ? 'ok' : 'error' }, ms / 1000);
  }

  /** A host worker's view of a failed attempt: `final` when no retry follows. */
  observeJobFailure(host: string, step: string, final: boolean): void {
    (final ? this.jobFailures : this.jobRetries).inc({ host, step });
  }

  setQueueDepth(hostId: string, depth: number): void {
    this.queueDepth.set({ host: hostId }, depth);
  }

  setLag(subscription: string, lag: number): void {
    this.projectionLag.set({ subscription }, lag);
  }

  setResults(counts: ResultCounts): void {
    this.resultsPending.set(counts.pending);
    this.resultsWaiting.set(counts.waiting);
    this.resultsDeadLettered.set(counts.deadLettered);
  }

  /**
   * Fills the read-model gauges from a census taken at scrape time. Only the control
   * plane attaches one: a worker would report the same cluster-wide numbers again.
   */
  attachReadModels(census: ReadModelCensus): void {
    this.census = census;
  }

  /** The control plane's lease, read at scrape time (a worker has none). */
  attachLease(view: () => { owner: boolean; fence?: number }): void {
    this.lease = view;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}

const MIB = 1024 * 1024;

type HostLabel = 'host' | 'name' | 'state';
type HostCensus = Census['hosts'][number];
