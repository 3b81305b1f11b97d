/**
 * Every read-model key lives under `<prefix>:<space>:` (space `rm` for the live
 * read models) so a deployment, a test run or a shadow rebuild owns its namespace.
 */
export class ReadModelKeys {
  /** Everything before the read-model-relative part of a key, e.g. `vl:rm:`. */
  readonly root: string;

  constructor(
    readonly prefix: string,
    readonly space = 'rm',
    /**
     * Whether the per-id keys below are built once per id and handed out again (a replay's
     * namespace, see `shadow`). Not for the live namespace: it lives as long as the process
     * and would keep every id it ever saw.
     */
    intern = false,
  ) {
    this.root = `${prefix}:${space}:`;
    if (intern) {
      this.vm = this.interned('vm:');
      this.vmsByProject = this.interned('vms:project:');
      this.operation = this.interned('op:');
      this.operationsByVm = this.interned('ops:vm:');
      this.operationsByPrincipal = this.interned('ops:principal:');
    }
  }

  /**
   * The same layout under a throwaway namespace (`<prefix>:shadow:<id>:rm:`), for rebuilds and
   * replay checks. Its VM keys are interned: a replay folds every event of the log into maps
   * keyed by these names, and a key built afresh per event (about 100 characters under a
   * shadow's root) was concatenated, flattened and hashed again on every look-up; an interned
   * one keeps its hash. The namespace lives as long as the replay's fold, which holds every
   * one of these keys anyway.
   */
  shadow(id: string): ReadModelKeys {
    return new ReadModelKeys(this.prefix, `shadow:${id}:rm`, true);
  }

  /** A key family (`vm:` + id) whose keys are built once per id. */
  private interned(family: string): (id: string) => string {
    const built = new Map<string, string>();
    return (id) => {
      let key = built.get(id);
      if (key === undefined) built.set(id, (key = this.k(family + id)));
      return key;
    };
  }

  /** Where a shadow keeps its own bookkeeping and data: delete everything under it when done. */
  shadowRoot(id: string): string {
    return `${this.prefix}:shadow:${id}`;
  }

  /** The part of a key after the namespace root (`vm:<id>`), the same in live and shadow namespaces. */
  relative(key: string): string {
    return key.startsWith(this.root) ? key.slice(this.root.length) : key;
  }

  private k(s: string): string {
    return `${this.root}${s}`;
  }
  private readonly built = new Map<string, string>();
  /**
   * A key that never changes, built once: the same string every time, whose hash V8
   * keeps, so a replay's in-memory maps do not hash a fresh copy on every event.
   */
  private once(s: string): string {
    let key = this.built.get(s);
    if (key === undefined) this.built.set(s, (key = this.k(s)));
    return key;
  }
  vm = (id: string) => this.k(`vm:${id}`);
  vmIndex = () => this.once('vms');
  /** The VMs of one project (for its usage), in creation order. */
  vmsByProject = (project: string) => this.k(`vms:project:${project}`);
  /** The VMs of a project that are not deleted (quota admission, usage), and of a host (its reconciler). */
  liveVmsOfProject = (project: string) => this.k(`vms:live:project:${project}`);
  liveVmsOnHost = (hostId: string) => this.k(`vms:live:host:${hostId}`);
  /** Every VM that is not deleted, in creation order with the `vms` index's scores (`GET /v1/vms`). */
  liveVms = () => this.once('vms:live:all');
  /** How many VMs the live indexes have seen created (see vm-live-indexes.ts). */
  liveIndexFormat = () => this.once('vms:live-format');
  project = (name: string) => this.k(`project:${name}`);
  projectIndex = () => this.once('projects');
  host = (id: string) => this.k(`host:${id}`);
  /** What one VM holds on a host (ids are names without ':', so it never reads as another host's record). */
  hostAllocation = (hostId: string, vmId: string) => this.k(`host:${hostId}:vm:${vmId}`);
  hostIndex = () => this.once('hosts');
  image = (name: string) => this.k(`image:${name}`);
  imageIndex = () => this.once('images');
  network = (id: string) => this.k(`network:${id}`);
  networkIndex = () => this.once('networks');
  volume = (id: string) => this.k(`volume:${id}`);
  volumeIndex = () => this.once('volumes');
  operation = (id: string) => this.k(`op:${id}`);
  operationIndex = () => this.once('ops');
  operationsByVm = (vmId: string) => this.k(`ops:vm:${vmId}`);
  operationsByPrincipal = (p: string) => this.k(`ops:principal:${p}`);
  checkpoint = (projection: string) => this.k(`checkpoint:${projection}`);
  epoch = (projection: string) => this.k(`epoch:${projection}`);
  idempotency = (scope: string, key: string) => `${this.prefix}:idem:${scope}:${key}`;
  /** Lease held while a projection is being rebuilt or checked (one at a time, across processes). */
  maintenanceLock = (projection: string) => `${this.prefix}:maint:lock:${projection}`;
  /** Progress of a running rebuild operation; ephemeral, not part of any read model. */
  rebuildProgress = (operationId: string) => `${this.prefix}:maint:progress:${operationId}`;
}
