import type { Redis } from 'ioredis';
import type { ReadModelKeys } from './read-model.keys.js';
import type { HostRecord, OperationView, ProjectRecord, VmRecord } from './read-model.types.js';

export interface Page<T> {
  items: T[];
  next: string | null;
}

/** Queries over the Redis read models; writes belong to the projections only. */
export class ReadModels {
  constructor(
    private readonly redis: Redis,
    readonly keys: ReadModelKeys,
  ) {}

  private async getJson<T>(key: string): Promise<T | undefined> {
    const raw = await this.redis.get(key);
    return raw == null ? undefined : (JSON.parse(raw) as T);
  }

  private async many<T>(keys: string[]): Promise<T[]> {
    if (keys.length === 0) return [];
    const raws = await this.redis.mget(keys);
    return raws.filter((r): r is string => r != null).map((r) => JSON.parse(r) as T);
  }

  private async page<T>(
    indexKey: string,
    toKey: (id: string) => string,
    cursor: number,
    limit: number,
  ): Promise<Page<T>> {
    const ids = await this.redis.zrange(indexKey, cursor, cursor + limit);
    const more = ids.length > limit;
    const items = await this.many<T>(ids.slice(0, limit).map(toKey));
    return { items, next: more ? String(cursor + limit) : null };
  }

  /**
   * A page of an index keeping only what `keep` accepts: scans from `cursor` in chunks
   * until `limit` items are kept; `next` is the index offset after the last one scanned,
   * so pages never skip or repeat an item.
   */
  private async filteredPage<T>(
    indexKey: string,
    toKey: (id: string) => string,
    cursor: number,
    limit: number,
    keep: (item: T) => boolean | Promise<boolean>,
  ): Promise<Page<T>> {
    const items: T[] = [];
    let offset = cursor;
    const chunk = Math.max(limit, 100);
    for (;;) {
      const ids = await this.redis.zrange(indexKey, offset, offset + chunk - 1);
      const found = await this.many<T>(ids.map(toKey));
      for (let i = 0; i < found.length; i++) {
        if (!(await keep(found[i]!))) continue;
        items.push(found[i]!);
        if (items.length === limit) {
          const scanned = offset + i + 1;
          const more = (await this.redis.zcard(indexKey)) > scanned;
          return { items, next: more ? String(scanned) : null };
        }
      }
      if (ids.length < chunk) return { items, next: null };
      offset += ids.length;
    }
  }

  getVm(id: string): Promise<VmRecord | undefined> {
    return this.getJson<VmRecord>(this.keys.vm(id));
  }

  listVms(cursor: number, limit: number): Promise<Page<VmRecord>> {
    return this.page<VmRecord>(this.keys.vmIndex(), this.keys.vm, cursor, limit);
  }

  /** VMs the caller may see (`keep`), oldest first. */
  listVmsWhere(cursor: number, limit: number, keep: (r: VmRecord) => boolean): Promise<Page<VmRecord>> {
    return this.filteredPage<VmRecord>(this.keys.vmIndex(), this.keys.vm, cursor, limit, keep);
  }

  /** Every VM ever created in a project (deleted ones included), for its usage. */
  async vmsOfProject(project: string): Promise<VmRecord[]> {
    const ids = await this.redis.zrange(this.keys.vmsByProject(project), 0, -1);
    return this.many<VmRecord>(ids.map(this.keys.vm));
  }

  getProject(name: string): Promise<ProjectRecord | undefined> {
    return this.getJson<ProjectRecord>(this.keys.project(name));
  }

  async listProjects(): Promise<ProjectRecord[]> {
    const names = await this.redis.zrange(this.keys.projectIndex(), 0, -1);
    return this.many<ProjectRecord>(names.map(this.keys.project));
  }

  /** Operations the caller may see (`keep`), from the given filter's index. */
  listOperationsWhere(
    filter: { vmId?: string; principal?: string },
    cursor: number,
    limit: number,
    keep: (op: OperationView) => boolean | Promise<boolean>,
  ): Promise<Page<OperationView>> {
    return this.filteredPage<OperationView>(this.operationIndex(filter), this.keys.operation, cursor, limit, keep);
  }

  private operationIndex(filter: { vmId?: string; principal?: string }): string {
    if (filter.vmId) return this.keys.operationsByVm(filter.vmId);
    if (filter.principal) return this.keys.operationsByPrincipal(filter.principal);
    return this.keys.operationIndex();
  }

  getHost(id: string): Promise<HostRecord | undefined> {
    return this.getJson<HostRecord>(this.keys.host(id));
  }

  async listHosts(): Promise<HostRecord[]> {
    const ids = await this.redis.zrange(this.keys.hostIndex(), 0, -1);
    return this.many<HostRecord>(ids.map(this.keys.host));
  }

  getOperation(id: string): Promise<OperationView | undefined> {
    return this.getJson<OperationView>(this.keys.operation(id));
  }

  listOperations(
    filter: { vmId?: string; principal?: string },
    cursor: number,
    limit: number,
  ): Promise<Page<OperationView>> {
    const index = filter.vmId
      ? this.keys.operationsByVm(filter.vmId)
      : filter.principal
        ? this.keys.operationsByPrincipal(filter.principal)
        : this.keys.operationIndex();
    return this.page<OperationView>(index, this.keys.operation, cursor, limit);
  }
}
