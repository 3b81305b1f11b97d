import type { HostBinding, VmSpec } from '../../src/drivers/hypervisor-driver.port.js';

/**
 * What one driver gives the shared contract suite (test/drivers/contract-suite.ts).
 * Each driver kind `<kind>` exports `target: ContractTarget` from
 * test/drivers/<kind>/<kind>.contract-target.ts; the suite imports it by that
 * path and lists the driver as skipped, with the reason, when the file is absent
 * or skipReason() says the machine cannot run it.
 */
export interface ContractTarget {
  /** The kind as registered in src/drivers/driver-registry.ts. */
  kind: string;
  /** What the suite runs against when that is not the real thing (a simulator), for its title. */
  title?: string;
  /** What this target cannot prove (a simulator's gaps): each is listed as a skipped test with its reason. */
  unproven?: Record<string, string>;
  /** Why this driver cannot run on this machine, or undefined when it can. */
  skipReason(): Promise<string | undefined>;
  /**
   * A binding for a fresh host whose disks, sockets and root filesystems live under storageDir.
   * storageDir may not exist yet; its parent is searchable by other users (0711).
   */
  host(id: string, storageDir: string): Promise<HostBinding>;
  /**
   * A second host that a VM of the first can migrate to (another libvirtd, another
   * storage dir…), or undefined when the driver has no second host here.
   */
  secondHost?(id: string, storageDir: string): Promise<HostBinding | undefined>;
  /**
   * Optional: a host of this kind whose URI turns capabilities off, so the suite can prove
   * the refusals ('unsupported' from the driver, 422 at the API) even for a driver whose
   * usual host declares everything. Undefined (or absent) when the URI cannot do that.
   */
  restrictedHost?(id: string, storageDir: string): Promise<HostBinding | undefined>;
  /** A spec this driver boots quickly on this machine (small memory, a usable image). */
  spec(vmId: string): VmSpec;
  /** Kill the VM's processes from outside the service, as the OOM killer or an admin would. */
  killFromOutside(host: HostBinding, vmId: string): Promise<void>;
  /** Remove whatever the suite left on the machine for this host (domains, processes, mounts). */
  cleanup?(host: HostBinding): Promise<void>;
}
