import { allocated } from '../domain/host/host.state.js';
import type { Resources } from '../domain/host/host.events.js';
import type { ReadModels } from '../projections/read-models.js';
import type { OperationTally } from './metrics-operations.js';

export interface Census {
  vmsByState: Map<string, number>;
  operations: Array<{ kind: string; status: string; count: number }>;
  hosts: Array<{ id: string; name: string; state: string; capacity: Resources; allocated: Resources }>;
}

const PAGE = 500;

/**
 * Counts the read models for the gauges of one scrape: VMs by state, operations by
 * kind and status (incrementally: see OperationTally), each host's capacity and allocation. One walk serves every gauge
 * of a scrape (results are reused for `maxAgeMs`); a scrape while Redis is down
 * answers the last census instead of failing.
 */
export class ReadModelCensus {
  private last: Census = { vmsByState: new Map(), operations: [], hosts: [] };
  private at = 0;
  private running: Promise<Census> | undefined;

  constructor(
    private readonly readModels: ReadModels,
    private readonly operations: OperationTally,
    private readonly maxAgeMs = 1000,
  ) {}

  take(): Promise<Census> {
    if (Date.now() - this.at < this.maxAgeMs) return Promise.resolve(this.last);
    this.running ??= this.count()
      .then((c) => {
        this.last = c;
        this.at = Date.now();
        return c;
      })
      .catch(() => this.last)
      .finally(() => (this.running = undefined));
    return this.running;
  }

  private async count(): Promise<Census> {
    const vmsByState = new Map<string, number>();
    for (let cursor: string | null = '0'; cursor !== null;) {
      const page = await this.readModels.listVms(Number(cursor), PAGE);
      for (const vm of page.items) vmsByState.set(vm.state.state, (vmsByState.get(vm.state.state) ?? 0) + 1);
      cursor = page.next;
    }
    const operations = await this.operations.count();
    const hosts = (await this.readModels.listHosts())
      .filter((h) => h.state.exists && h.state.id)
      .map((h) => ({
        id: h.state.id!,
        name: h.state.name,
        state: h.state.state,
        capacity: h.state.capacity,
        allocated: allocated(h.state),
      }));
    return { vmsByState, operations, hosts };
  }
}
