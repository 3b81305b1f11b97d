/**
 * One port over every hypervisor family (libvirt's one-table-per-driver idea).
 * Every verb is idempotent per request: calling it again after a crash or a
 * BullMQ redelivery reaches the same end state without doing the work twice
 * (start of a running VM, stop of a stopped one, destroy of an absent one are
 * successes).
 */

export interface DriverCapabilities {
  /** Live migration (RAM copied while running). */
  liveMigration: boolean;
  /** Cold migration (stopped VM's disk moved). */
  coldMigration: boolean;
  /** Snapshots that include RAM/device state of a running VM. */
  memorySnapshots: boolean;
  /** Disk-only snapshots (of a stopped VM at least). */
  diskSnapshots: boolean;
  pause: boolean;
  reboot: boolean;
  /** Hardware acceleration in use (KVM); informational. */
  hardwareAcceleration: boolean;
  hotResize?: HotResizeCapabilities;
}

/** What a running VM can change live; absent = nothing (the VM must be stopped). */
export interface HotResizeCapabilities {
  /** 'grow': vCPUs can be added up to spec.maxVcpus; 'any': also removed; 'none'. */
  vcpus: 'none' | 'grow' | 'any';
  /** 'grow': memory can be added up to spec.maxMemoryMiB; 'any': also reduced; 'none'. */
  memory: 'none' | 'grow' | 'any';
  /** The root disk can grow while the VM runs. */
  diskGrow: boolean;
  /** Live memory changes come in multiples of this (a DIMM the guest can online whole); absent: any. */
  memoryStepMiB?: number;
}

export interface VmSpec {
  /** The VM id; drivers name processes/domains/files after it. */
  id: string;
  name: string;
  vcpus: number;
  memoryMiB: number;
  diskGiB: number;
  /** Ceilings the VM is started with, so vCPUs/memory can be added live (qemu -smp maxcpus, -m slots/maxmem).
   *  Absent: equal to vcpus / memoryMiB (no headroom). */
  maxVcpus?: number;
  maxMemoryMiB?: number;
  /** Optional base image (absolute path or name inside the host's image dir) to overlay. */
  image?: string;
  /** NoCloud user-data: with sshKeys, drivers that can attach a seed disk (label `cidata`) do. */
  userData?: string;
  sshKeys?: string[];
  /** NICs with their control-plane-allocated MAC and IP; drivers plug them into the network's bridge. */
  nics?: DriverNic[];
  /** Attached volumes: each a second disk (qemu, libvirt) or a bind mount at /mnt/<name> (containers). */
  volumes?: DriverVolume[];
}

/** One NIC as the control plane decided it (host-side names are derived from networkId, never given). */
export interface DriverNic {
  networkId: string;
  mac: string;
  ip: string;
  prefixLength: number;
  gateway: string;
  cidr: string;
  nat: boolean;
  /** VXLAN network identifier of the network (the overlay between hosts). */
  vni: number;
}

/**
 * A volume on this host. Drivers derive its file from the id alone:
 * `<storageDir>/volumes/<volumeId>.qcow2` (a directory `<storageDir>/volumes/<volumeId>/` for containers).
 */
export interface DriverVolume {
  volumeId: string;
  name: string;
  sizeGiB: number;
}

export type DomainState = 'running' | 'paused' | 'stopped' | 'absent' | 'crashed' | 'migrating' | 'unknown';

export interface DomainStatus {
  state: DomainState;
  /** Human detail: exit reason, qemu status string, … */
  detail?: string;
  pid?: number;
}

export interface DomainInfo extends DomainStatus {
  /** The VM id when the domain is one of ours, else the domain's own name. */
  vmId: string;
  /** False for a domain the driver found but did not create (reported, never killed). */
  managed: boolean;
}

export interface SnapshotInfo {
  name: string;
  memory: boolean;
  createdAt?: string;
  sizeBytes?: number;
}

export interface Progress {
  /** 0..100 when known. */
  percent?: number;
  message?: string;
  transferredBytes?: number;
  remainingBytes?: number;
  totalBytes?: number;
}

/** Per-call context: a deadline and a progress sink (throttled by the caller). */
export interface CallContext {
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
  /**
   * `migrate` (source side): the hypervisor has handed the guest off to the target, which may
   * be finished from now on; the call itself still ends the source copy before it returns. At
   * most once per call; a driver that does not say so is taken to hand off when it returns.
   */
  onHandedOff?: () => void;
}

/** Opaque description of where the target listens, produced by prepareIncoming on the target host. */
export type MigrationEndpoint = Record<string, string | number | boolean>;

/**
 * `invalid`: the request or the host configuration is refused as such (an image outside the
 * host's catalog, a host URI outside the allow-list); retrying cannot help.
 */
export type DriverErrorCode = 'unsupported' | 'not_found' | 'conflict' | 'timeout' | 'failed' | 'invalid';

export class DriverError extends Error {
  override readonly name: string = 'DriverError';
  constructor(
    readonly code: DriverErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * A live byte stream to a VM's console: the serial port of a VM, the stdio of a container's
 * init. Bytes, not text: a terminal's escape sequences pass through untouched.
 */
export interface ConsoleStream {
  /** Bytes the guest printed; listeners see every chunk from the moment they are added. */
  onData(listener: (chunk: Buffer) => void): void;
  /** The console went away (the VM stopped, the socket closed); called once, with why. */
  onClose(listener: (reason: string) => void): void;
  /** Keystrokes for the guest. */
  write(data: Buffer): void;
  /** Detach; never stops the VM. */
  close(): void;
}

export interface HypervisorDriver {
  readonly kind: string;
  readonly capabilities: DriverCapabilities;
  /** Create the disk and the domain definition; the VM is stopped afterwards. */
  define(spec: VmSpec, ctx?: CallContext): Promise<void>;
  start(spec: VmSpec, ctx?: CallContext): Promise<void>;
  /** Graceful (ACPI) unless force; falls back to a hard stop after timeoutMs. */
  stop(spec: VmSpec, opts: { force: boolean; timeoutMs?: number }, ctx?: CallContext): Promise<void>;
  reboot(spec: VmSpec, ctx?: CallContext): Promise<void>;
  pause(spec: VmSpec, ctx?: CallContext): Promise<void>;
  resume(spec: VmSpec, ctx?: CallContext): Promise<void>;
  /** Stop if needed and remove every file/definition of the VM on this host. */
  destroy(spec: VmSpec, ctx?: CallContext): Promise<void>;
  snapshot(spec: VmSpec, name: string, opts: { memory: boolean }, ctx?: CallContext): Promise<SnapshotInfo>;
  /** Returns the domain state after the revert (a memory snapshot restores the running state). */
  revert(spec: VmSpec, name: string, ctx?: CallContext): Promise<DomainState>;
  deleteSnapshot(spec: VmSpec, name: string, ctx?: CallContext): Promise<void>;
  listSnapshots(spec: VmSpec, ctx?: CallContext): Promise<SnapshotInfo[]>;
  /** On the target host: get ready to receive the VM; returns where the source must send it. */
  prepareIncoming(spec: VmSpec, opts: { live: boolean }, ctx?: CallContext): Promise<MigrationEndpoint>;
  /** On the source host: send the VM; on success the source copy no longer runs. */
  migrate(spec: VmSpec, endpoint: MigrationEndpoint, opts: { live: boolean }, ctx?: CallContext): Promise<void>;
  /**
   * On the source host, when the target has begun to prepare a live migration of this VM (optional,
   * a hint, not a step): get ready for the `migrate` that follows while the target starts (qemu:
   * open the VM's QMP connection and hold it). One that never comes, comes late, or fails costs
   * only that head start. `holdMs`: how long to stay ready for a migrate that does not come.
   */
  prepareOutgoing?(vmId: string, opts?: { holdMs?: number }): Promise<void>;
  /** On the target host after a successful migrate: make the VM run there. */
  finishIncoming(spec: VmSpec, opts: { live: boolean }, ctx?: CallContext): Promise<void>;
  /** On the target host after a failed migrate: remove whatever prepareIncoming made. */
  abortIncoming(spec: VmSpec, ctx?: CallContext): Promise<void>;
  status(spec: VmSpec): Promise<DomainStatus>;
  /** What really runs on this host right now (like `virsh list --all`). */
  listDomains(): Promise<DomainInfo[]>;
  /**
   * Optional push feed of state changes made by anyone (libvirt's `virsh event`): calls
   * onChange(vmId) when one of this driver's VMs may have changed state, so reconciliation
   * looks at it at once instead of at the next sweep. Only a hint: the periodic sweep stays the
   * source of truth. Returns a function that stops watching; close() stops every watch too.
   */
  watch?(onChange: (vmId: string) => void, onError?: (message: string) => void): () => void;
  /**
   * Attach to the running VM's console (optional: a driver without it has no console, which the
   * API reports as such). `conflict` when the VM is not running here.
   */
  openConsole?(spec: VmSpec, ctx?: CallContext): Promise<ConsoleStream>;
  /** The last `maxBytes` (at most) of everything the console printed, kept whether or not anyone was attached. */
  consoleLog?(spec: VmSpec, maxBytes: number): Promise<Buffer>;
  /** Create the volume's file at its size (idempotent: an existing one is kept). */
  createVolume?(volume: DriverVolume, ctx?: CallContext): Promise<void>;
  /** Grow the volume's file to `volume.sizeGiB` (never shrinks); `vmId`: the VM it is attached to (grown live if it runs). */
  resizeVolume?(volume: DriverVolume, opts: { vmId?: string }, ctx?: CallContext): Promise<void>;
  /** Remove the volume's file (an absent one is a success). */
  deleteVolume?(volume: DriverVolume, ctx?: CallContext): Promise<void>;
  /** Attach to the VM: hot-plug when `live` (the VM runs), else only into its definition (next start). */
  attachVolume?(spec: VmSpec, volume: DriverVolume, opts: { live: boolean }, ctx?: CallContext): Promise<void>;
  detachVolume?(spec: VmSpec, volume: DriverVolume, opts: { live: boolean }, ctx?: CallContext): Promise<void>;
  /** Resize the running VM to `to` (each field the wanted total, not a delta). Idempotent: a VM already at
   *  `to` is a success. `conflict` when it does not run here; `unsupported`/`invalid` beyond what it can. */
  resizeLive?(
    spec: VmSpec,
    to: { vcpus: number; memoryMiB: number; diskGiB: number },
    ctx?: CallContext,
  ): Promise<void>;
  /** Release connections/child watchers; never kills VMs. */
  close(): Promise<void>;
}

/** What a worker knows about the host it serves; drivers parse `uri` themselves. */
export interface HostBinding {
  id: string;
  driver: string;
  uri: string;
  /** Absolute directory for this host's disks and sockets (under DATA_DIR unless the URI says otherwise). */
  storageDir: string;
}

export type DriverFactory = (host: HostBinding) => HypervisorDriver;
