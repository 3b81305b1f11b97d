export const VM_STATES = [
  'requested',
  'provisioning',
  'stopped',
  'running',
  'paused',
  'migrating',
  'deleting',
  'deleted',
  'failed',
] as const;
export type VmStateName = (typeof VM_STATES)[number];

export const OPERATION_KINDS = [
  'create',
  'start',
  'stop',
  'reboot',
  'pause',
  'resume',
  'snapshot',
  'revert',
  'deleteSnapshot',
  'migrate',
  'delete',
  /** A start the healing process manager asked for (restartPolicy), answering a crash. */
  'restart',
  /** A VM of a fenced host re-placed on another host (shared storage) and started there. */
  'recover',
  'attachVolume',
  'detachVolume',
  /** A running VM resized live (a cold resize is recorded at once, with no operation of the VM's). */
  'resize',
] as const;
export type OperationKind = (typeof OPERATION_KINDS)[number];

/**
 * A unit of work a worker runs through a driver. One operation is one or more
 * steps (create = define then start; migrate = prepare, send, finish).
 */
export const JOB_STEPS = [
  'define',
  'start',
  'stop',
  'reboot',
  'pause',
  'resume',
  'snapshot',
  'revert',
  'deleteSnapshot',
  'prepareIncoming',
  'migrate',
  'finishIncoming',
  'abortIncoming',
  'destroy',
  'attachVolume',
  'detachVolume',
  'resizeLive',
  // A volume's own steps (its stream, not a VM's): never awaited by a VM operation.
  'createVolume',
  'resizeVolume',
  'deleteVolume',
] as const;
export type JobStep = (typeof JOB_STEPS)[number];

/** What healing does when the VM goes down without being asked (see vm.healing.ts). */
export const RESTART_POLICIES = ['never', 'on-crash', 'always'] as const;
export type RestartPolicy = (typeof RESTART_POLICIES)[number];

export interface VmSpecData {
  name: string;
  vcpus: number;
  memoryMiB: number;
  diskGiB: number;
  /**
   * Ceilings the VM is started with, so vCPUs/memory can be added live up to them. Absent (a VM
   * created before ceilings existed): equal to vcpus / memoryMiB, i.e. no headroom (see ceilingsOf).
   */
  maxVcpus?: number;
  maxMemoryMiB?: number;
  /** A path or `kernel:<dir>` in the host's images dirs, or the name of a catalog image (then catalogImage says which bytes). */
  image?: string;
  /** Set when `image` names a catalog image: the bytes the VM was created from, which the host's worker fetches and checks. */
  catalogImage?: CatalogImageRef;
  /** NoCloud user-data handed to the guest on a seed disk (qemu, libvirt). */
  userData?: string;
  /** SSH public keys for the guest (NoCloud meta-data `public-keys`). */
  sshKeys?: string[];
  /** The placement group the VM joined at create (its host was admitted on the group's stream). */
  placementGroupId?: string;
  /** Host labels a host must carry to take the VM (create, and every later placement of it). */
  hostSelector?: Record<string, string>;
  /** How placement ordered the hosts for this VM, when the request or the deployment chose one. */
  placement?: 'spread' | 'pack';
  /** NICs, each with the address its network allocated before the VM was created (kept across migration). */
  nics?: NicSpec[];
  /** Attached volumes, in attach order (their files live on the VM's host, see VolumeSpec). */
  volumes?: VolumeSpec[];
}

/** One NIC as the host plumbs it: which network, the allocated MAC and IP, and the network's addressing. */
export interface NicSpec {
  networkId: string;
  mac: string;
  ip: string;
  prefixLength: number;
  gateway: string;
  cidr: string;
  nat: boolean;
  vni: number;
}

/** A volume as a VM carries it: the file is `<storageDir>/volumes/<volumeId>.qcow2` (a directory for containers). */
export interface VolumeSpec {
  volumeId: string;
  name: string;
  sizeGiB: number;
}

/** Which catalog image, exactly: a worker copies it by name and refuses bytes whose sha256 differs. */
export interface CatalogImageRef {
  name: string;
  format: 'qcow2' | 'raw' | 'kernel' | 'rootfs';
  sha256: string;
}

/** A VM's spec as a job carries it to a host: the data plus the VM id drivers name things after. */
export interface VmJobSpec extends VmSpecData {
  id: string;
}

/** Where the source of a migration must send the VM: opaque, produced on the target host. */
export type MigrationEndpoint = Record<string, string | number | boolean>;

/** How far a step (a migration, mostly) has come, as a worker reports it. */
export interface StepProgress {
  /** 0..100 when known. */
  percent?: number;
  message?: string;
  transferredBytes?: number;
  remainingBytes?: number;
  totalBytes?: number;
}

export interface SnapshotRecord {
  name: string;
  memory: boolean;
  createdAt: string;
}

/** What the API needs to know of a host's driver to refuse early (422). */
export interface CapabilityView {
  liveMigration: boolean;
  coldMigration: boolean;
  memorySnapshots: boolean;
  diskSnapshots: boolean;
  pause: boolean;
  reboot: boolean;
  /** What a running VM can change live; absent (or a host registered before it): nothing. */
  hotResize?: HotResizeView;
}

/** A host that says nothing of its driver (none named, unknown, registered before capabilities): it can do none of it. */
export const NO_CAPABILITIES: CapabilityView = {
  liveMigration: false,
  coldMigration: false,
  memorySnapshots: false,
  diskSnapshots: false,
  pause: false,
  reboot: false,
};

/** The driver port's HotResizeCapabilities, as the domain reads them off the host's record. */
export interface HotResizeView {
  /** 'grow': vCPUs can be added up to the VM's maxVcpus; 'any': also removed. */
  vcpus: 'none' | 'grow' | 'any';
  memory: 'none' | 'grow' | 'any';
  diskGrow: boolean;
  /** Live memory changes come in multiples of this; absent: any. */
  memoryStepMiB?: number;
}

/** A VM's size: what a resize changes. */
export interface VmSize {
  vcpus: number;
  memoryMiB: number;
  diskGiB: number;
}

/** The most vCPUs a VM may be given a ceiling of. */
export const MAX_VCPUS = 64;

/** The VM's ceilings; one whose history predates them has none recorded and folds to max = current. */
export function ceilingsOf(spec: Pick<VmSpecData, 'vcpus' | 'memoryMiB' | 'maxVcpus' | 'maxMemoryMiB'>): {
  maxVcpus: number;
  maxMemoryMiB: number;
} {
  return { maxVcpus: spec.maxVcpus ?? spec.vcpus, maxMemoryMiB: spec.maxMemoryMiB ?? spec.memoryMiB };
}

/** Ceilings a create gets when it names none: 4× the size (vCPUs capped at MAX_VCPUS), never below the size. */
export function defaultCeilings(size: { vcpus: number; memoryMiB: number }): {
  maxVcpus: number;
  maxMemoryMiB: number;
} {
  return {
    maxVcpus: Math.max(size.vcpus, Math.min(MAX_VCPUS, 4 * size.vcpus)),
    maxMemoryMiB: 4 * size.memoryMiB,
  };
}
