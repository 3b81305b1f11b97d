/** Every read-model key lives under `<prefix>:rm:` so a deployment (or a test run) owns its namespace. */
export class ReadModelKeys {
  constructor(readonly prefix: string) {}
  private k(s: string): string {
    return `${this.prefix}:rm:${s}`;
  }
  vm = (id: string) => this.k(`vm:${id}`);
  vmIndex = () => this.k('vms');
  host = (id: string) => this.k(`host:${id}`);
  hostIndex = () => this.k('hosts');
  operation = (id: string) => this.k(`op:${id}`);
  operationIndex = () => this.k('ops');
  operationsByVm = (vmId: string) => this.k(`ops:vm:${vmId}`);
  operationsByPrincipal = (p: string) => this.k(`ops:principal:${p}`);
  checkpoint = (projection: string) => this.k(`checkpoint:${projection}`);
  epoch = (projection: string) => this.k(`epoch:${projection}`);
  idempotency = (scope: string, key: string) => `${this.prefix}:idem:${scope}:${key}`;
}
