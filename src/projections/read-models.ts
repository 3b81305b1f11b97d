import type { Redis } from 'ioredis';
import type { ReadModelKeys } from './read-model.keys.js';
import type {
  HostRecord,
  ImageRecord,
  NetworkRecord,
  OperationView,
  ProjectRecord,
  VmRecord,
  VolumeRecord,
} from './read-model.types.js';
import { operationMatches, vmMatches, type OperationListFilter, type VmListFilter } from './list-filters.js';
import type { LiveIndexFormat } from './vm-live-indexes.js';
import { rangeWithRecords } from './index-records.js';
import { scanLiveOldestFirst } from './scan-live-page.js';
import { scanNewestFirst, scanOldestFirst, type Page } from './scan-page.js';

export type { Page } from './scan-page.js';

/** Host names remembered at most (a fleet is far smaller; the bound only keeps a mistake from growing memory). */
const HOST_NAMES_LIMIT = 10_000;

/** Queries over the Redis read models; writes belong to the projections only. */
export class ReadModels {
  /** host id → name. A name is set once, by HostRegistered, and never changes, so it is safe to keep. */
  private readonly hostNames = new Map<string, string>();
  /**
   * What this process's live `vms` runner committed under a key, when it knows (ProjectionRunner.committed;
   * undefined on a standby, a stopped runner or a key it does not hold). That runner is the key's only writer
   * and learns each value once Redis has it, so a read answered here is the read model as it is, without the
   * Redis round trip (a socket write, a reply that waits for a busy loop) and the parse of the record.
   */
  private committed: (key: string) => unknown = () => undefined;

  constructor(
    private readonly redis: Redis,
    readonly keys: ReadModelKeys,
  ) {}

  /** Set once the control plane (and its runners) exists: see `committed`. */
  answerCommittedFrom(committed: (key: string) => unknown): void {
    this.committed = committed;
  }

  /** A `vms` read model record: as committed by this process's runner when it knows it, else from Redis. */
  private async getCommitted<T>(key: string): Promise<T | undefined> {
    const known = this.committed(key) as T | undefined;
    return known !== undefined ? known : this.getJson<T>(key);
  }

  private async getJson<T>(key: string): Promise<T | undefined> {
    const raw = await this.redis.get(key);
    return raw == null ? undefined : (JSON.parse(raw) as T);
  }

  /**
   * Every record of an index, oldest first, in one round trip (the index and the records read
   * by one script, index-records.ts); records whose key is gone are left out.
   */
  private async all<T>(index: string, toKey: (id: string) => string): Promise<T[]> {
    const { raws } = await rangeWithRecords(this.redis, index, toKey, 0, -1);
    return raws.filter((r): r is string => r != null).map((r) => JSON.parse(r) as T);
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

  getVm(id: string): Promise<VmRecord | undefined> {
    return this.getCommitted<VmRecord>(this.keys.vm(id));
  }

  listVms(cursor: number, limit: number): Promise<Page<VmRecord>> {
    return this.page<VmRecord>(this.keys.vmIndex(), this.keys.vm, cursor, limit);
  }

  /** Every VM ever created in a project (deleted ones included), for its usage. */
  async vmsOfProject(project: string): Promise<VmRecord[]> {
    const ids = await this.redis.zrange(this.keys.vmsByProject(project), 0, -1);
    return this.many<VmRecord>(ids.map(this.keys.vm));
  }

  /**
   * Whether the live indexes hold every VM: true when the projection indexed every VM
   * of the `vms` index itself (a read model built or rebuilt with them). Read in this
   * order, a page committed in between makes the two differ: the answer is then "no"
   * and the caller scans, never a short list.
   */
  async liveIndexesComplete(): Promise<boolean> {
    const format = await this.getJson<LiveIndexFormat>(this.keys.liveIndexFormat());
    const all = await this.redis.zcard(this.keys.vmIndex());
    return all === 0 || format?.created === all;
  }

  /** The project's VMs that are not deleted, from its live index (every VM of the project, scanned, when not complete). */
  async liveVmsOfProject(project: string): Promise<VmRecord[]> {
    if (!(await this.liveIndexesComplete()))
      return (await this.vmsOfProject(project)).filter((r) => r.state.state !== 'deleted');
    const ids = await this.redis.zrange(this.keys.liveVmsOfProject(project), 0, -1);
    return this.many<VmRecord>(ids.map(this.keys.vm));
  }

  /**
   * The VMs placed on a host and not deleted, oldest first; undefined when the live
   * indexes are not complete. The ids are read at once (the index shrinks as VMs are
   * deleted, so offset pages could skip one), the records in chunks.
   */
  async liveVmsOnHost(hostId: string): Promise<VmRecord[] | undefined> {
    if (!(await this.liveIndexesComplete())) return undefined;
    const ids = await this.redis.zrange(this.keys.liveVmsOnHost(hostId), 0, -1);
    const out: VmRecord[] = [];
    for (let i = 0; i < ids.length; i += 500)
      out.push(...(await this.many<VmRecord>(ids.slice(i, i + 500).map(this.keys.vm))));
    return out;
  }

  /**
   * A host's name, for the views that show it beside a host id. Read from the host's
   * record once, then remembered: the record also holds every VM's allocation on the
   * host, and parsing it for every VM read was a large share of a read's cost.
   */
  async hostName(id: string): Promise<string | undefined> {
    const known = this.hostNames.get(id);
    if (known !== undefined) return known;
    const name = (await this.getHost(id))?.state?.name;
    if (!name) return undefined;
    if (this.hostNames.size >= HOST_NAMES_LIMIT) this.hostNames.clear();
    this.hostNames.set(id, name);
    return name;
  }

  getProject(name: string): Promise<ProjectRecord | undefined> {
    return this.getJson<ProjectRecord>(this.keys.project(name));
  }

  async listProjects(): Promise<ProjectRecord[]> {
    return this.all<ProjectRecord>(this.keys.projectIndex(), this.keys.project);
  }

  getHost(id: string): Promise<HostRecord | undefined> {
    return this.getJson<HostRecord>(this.keys.host(id));
  }

  /** Every registered host's id, without reading the records (a host's record carries all its allocations). */
  hostIds(): Promise<string[]> {
    return this.redis.zrange(this.keys.hostIndex(), 0, -1);
  }

  async listHosts(): Promise<HostRecord[]> {
    return this.all<HostRecord>(this.keys.hostIndex(), this.keys.host);
  }

  getVolume(id: string): Promise<VolumeRecord | undefined> {
    return this.getJson<VolumeRecord>(this.keys.volume(id));
  }

  /** Every volume ever created, deleted ones included (their state says so), oldest first. */
  async listVolumes(): Promise<VolumeRecord[]> {
    return this.all<VolumeRecord>(this.keys.volumeIndex(), this.keys.volume);
  }

  getImage(name: string): Promise<ImageRecord | undefined> {
    return this.getJson<ImageRecord>(this.keys.image(name));
  }

  /** Every image ever uploaded, deleted ones included (their state says so), oldest first. */
  async listImages(): Promise<ImageRecord[]> {
    return this.all<ImageRecord>(this.keys.imageIndex(), this.keys.image);
  }

  getNetwork(id: string): Promise<NetworkRecord | undefined> {
    return this.getJson<NetworkRecord>(this.keys.network(id));
  }

  /** Every network ever created, deleted ones included (their state says so), oldest first. */
  async listNetworks(): Promise<NetworkRecord[]> {
    return this.all<NetworkRecord>(this.keys.networkIndex(), this.keys.network);
  }

  getOperation(id: string): Promise<OperationView | undefined> {
    return this.getCommitted<OperationView>(this.keys.operation(id));
  }

  /** VMs oldest first, filtered (`GET /v1/vms?state=&hostId=&name=&includeDeleted=`). */
  async findVms(
    filter: VmListFilter,
    cursor: number,
    limit: number,
    visible: (r: VmRecord) => boolean = () => true,
  ): Promise<Page<VmRecord>> {
    const keep = (r: VmRecord) => vmMatches(filter, r) && visible(r);
    // A list that hides deleted VMs reads the live index (the same page), while it is complete.
    if (!filter.includeDeleted && !filter.states?.includes('deleted')) {
      const live = { index: this.keys.vmIndex(), live: this.keys.liveVms(), format: this.keys.liveIndexFormat() };
      // The records this process's runner committed are taken as it holds them, not parsed again.
      const known = (id: string) => this.committed(this.keys.vm(id)) as VmRecord | undefined;
      const page = await scanLiveOldestFirst(this.redis, live, this.keys.vm, keep, cursor, limit, { known });
      if (page) return page;
    }
    return scanOldestFirst<VmRecord>(this.redis, this.keys.vmIndex(), this.keys.vm, keep, cursor, limit);
  }

  /** Newest first; the cursor is the position below which the next page starts. */
  listOperations(
    filter: OperationListFilter,
    cursor: number,
    limit: number,
    visible: (op: OperationView) => boolean | Promise<boolean> = () => true,
  ): Promise<Page<OperationView>> {
    const index = filter.vmId
      ? this.keys.operationsByVm(filter.vmId)
      : filter.principal
        ? this.keys.operationsByPrincipal(filter.principal)
        : this.keys.operationIndex();
    return scanNewestFirst<OperationView>(
      this.redis,
      index,
      this.keys.operation,
      async (op) => operationMatches(filter, op) && (await visible(op)),
      cursor,
      limit,
    );
  }
}
