import { ID_MAP_BASE, ID_MAP_SIZE } from './id-map.js';
import { ociSeccomp, type OciSeccomp } from './seccomp-profile.js';

/**
 * Docker's default capability set minus what a tenant has no use for and an attacker would:
 * CAP_MKNOD (device nodes), CAP_NET_RAW (raw packets), CAP_SYS_CHROOT (the chroot breakout's
 * first step) and CAP_SETFCAP (file capabilities). Held inside the container's user namespace
 * only: they act on what that namespace owns (its files, its processes), never on the host's.
 * What is left lets an image's init do ordinary root work: chown its files, drop to a service
 * user, signal its processes, bind a port below 1024.
 */
export const CONTAINER_CAPS = [
  'CAP_AUDIT_WRITE',
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_NET_BIND_SERVICE',
  'CAP_SETGID',
  'CAP_SETPCAP',
  'CAP_SETUID',
] as const;

/** `runc spec`'s lists (the OCI defaults): hidden, and read-only, kernel interfaces. */
export const MASKED_PATHS = [
  '/proc/acpi',
  '/proc/asound',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/sys/firmware',
  '/proc/scsi',
];
export const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/** The only devices a container may open or create (cgroup `devices`): the usual char devices and ptys. */
const ALLOWED_DEVICES = [
  { type: 'c', major: 1, minor: 3 }, // null
  { type: 'c', major: 1, minor: 5 }, // zero
  { type: 'c', major: 1, minor: 7 }, // full
  { type: 'c', major: 1, minor: 8 }, // random
  { type: 'c', major: 1, minor: 9 }, // urandom
  { type: 'c', major: 5, minor: 0 }, // tty
  { type: 'c', major: 5, minor: 2 }, // ptmx
  { type: 'c', major: 136 }, // pts/*
];

/** The init sees this environment and nothing of the worker's (tokens, URLs). */
export const CONTAINER_ENV = ['PATH=/bin:/sbin:/usr/bin:/usr/sbin', 'HOME=/root', 'TERM=linux', 'container=virtledger'];

export interface OciConfigInput {
  rootfs: string;
  hostname: string;
  /** runc's `linux.cgroupsPath`: relative = under runc's own cgroup, as detectHierarchies places them. */
  cgroupsPath: string;
  /** Host busybox that brings `lo` up in the new network namespace (a createContainer hook). */
  busybox: string;
  seccomp?: OciSeccomp;
  /** Volumes: a host directory bind-mounted at `/mnt/<volume name>` each (names are checked safe names). */
  volumes?: { source: string; destination: string }[];
}

/**
 * The OCI runtime config runc runs a container from: every namespace including a user namespace
 * (root mapped to ID_MAP_BASE), the capability set above, no_new_privs, Podman's seccomp profile
 * tightened to Docker's, `runc spec`'s masked/read-only paths and mounts, a device allow-list.
 * Memory/cpu/pids limits are written into the cgroup dirs before runc joins them (container-cgroups.ts).
 */
export function ociConfig(o: OciConfigInput): Record<string, unknown> {
  const caps = [...CONTAINER_CAPS];
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: ['/sbin/init'],
      env: CONTAINER_ENV,
      cwd: '/',
      capabilities: { bounding: caps, effective: caps, permitted: caps, inheritable: [], ambient: [] },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: o.rootfs, readonly: false },
    hostname: o.hostname,
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
      {
        destination: '/dev',
        type: 'tmpfs',
        source: 'tmpfs',
        options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
      },
      {
        destination: '/dev/pts',
        type: 'devpts',
        source: 'devpts',
        options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
      },
      {
        destination: '/dev/shm',
        type: 'tmpfs',
        source: 'shm',
        options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'],
      },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      {
        destination: '/sys/fs/cgroup',
        type: 'cgroup',
        source: 'cgroup',
        options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'],
      },
      ...(o.volumes ?? []).map((v) => ({
        destination: v.destination,
        type: 'bind',
        source: v.source,
        options: ['rbind', 'rw', 'nosuid', 'nodev'],
      })),
    ],
    hooks: {
      // Runs inside the new namespaces as the container's root before its init, with the
      // namespace's full capabilities (which the init no longer has): the host's busybox, no shell.
      createContainer: [{ path: o.busybox, args: ['busybox', 'ip', 'link', 'set', 'lo', 'up'] }],
    },
    linux: {
      namespaces: ['pid', 'network', 'ipc', 'uts', 'mount', 'user'].map((type) => ({ type })),
      uidMappings: [{ containerID: 0, hostID: ID_MAP_BASE, size: ID_MAP_SIZE }],
      gidMappings: [{ containerID: 0, hostID: ID_MAP_BASE, size: ID_MAP_SIZE }],
      cgroupsPath: o.cgroupsPath,
      resources: {
        devices: [
          { allow: false, access: 'rwm' },
          ...ALLOWED_DEVICES.map((d) => ({ allow: true, access: 'rwm', ...d })),
        ],
      },
      seccomp: o.seccomp ?? ociSeccomp(caps),
      maskedPaths: MASKED_PATHS,
      readonlyPaths: READONLY_PATHS,
    },
  };
}
