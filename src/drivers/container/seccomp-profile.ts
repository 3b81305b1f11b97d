import { readFileSync } from 'node:fs';
import { DriverError } from '../hypervisor-driver.port.js';

/** Debian's `golang-github-containers-common` ships Podman's maintained default profile here. */
export const CONTAINERS_SECCOMP_PROFILE = '/usr/share/containers/seccomp.json';

/** The containers/common profile format (Docker's too): rules filtered by capability and arch. */
interface ContainersProfile {
  defaultAction: string;
  defaultErrnoRet?: number;
  archMap?: { architecture: string; subArchitectures?: string[] | null }[];
  syscalls: ContainersRule[];
}

interface ContainersRule {
  names: string[];
  action: string;
  errnoRet?: number;
  args?: SeccompArg[] | null;
  includes?: RuleFilter;
  excludes?: RuleFilter;
}

interface RuleFilter {
  caps?: string[];
  arches?: string[];
  minKernel?: string;
}

export interface SeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: string;
}

/** The OCI runtime spec's `linux.seccomp`, what runc reads. */
export interface OciSeccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures: string[];
  syscalls: { names: string[]; action: string; errnoRet?: number; args?: SeccompArg[] }[];
}

const EPERM = 1;
const ENOSYS = 38;

/**
 * Podman's profile lets a container call mount, unshare, setns, clone with namespace flags and
 * the new mount API because Podman relies on the user namespace alone. Docker's default profile
 * allows these only to a holder of CAP_SYS_ADMIN (and reboot/syslog/NUMA/ptrace-family calls
 * only with their capability). These containers never hold those capabilities, so the same
 * calls are taken out of the allow rules: the result is at least as strict as Docker's default.
 */
const DOCKER_CAP_GATED: Record<string, string[]> = {
  CAP_SYS_ADMIN: [
    'bpf',
    'clone3',
    'fanotify_init',
    'fsconfig',
    'fsmount',
    'fsopen',
    'fspick',
    'lookup_dcookie',
    'mount',
    'mount_setattr',
    'move_mount',
    'name_to_handle_at',
    'open_tree',
    'perf_event_open',
    'pivot_root',
    'quotactl',
    'quotactl_fd',
    'setdomainname',
    'sethostname',
    'setns',
    'syslog',
    'umount',
    'umount2',
    'unshare',
  ],
  CAP_SYS_BOOT: ['reboot'],
  CAP_SYSLOG: ['syslog'],
  CAP_SYS_NICE: ['get_mempolicy', 'mbind', 'set_mempolicy'],
  CAP_SYS_PTRACE: ['kcmp', 'pidfd_getfd', 'process_madvise', 'process_vm_readv', 'process_vm_writev'],
};

/** Every CLONE_NEW* flag (Docker's mask): clone with any of them needs CAP_SYS_ADMIN. */
const CLONE_NAMESPACE_FLAGS = 0x7e020000;

/** Node's `process.arch` → the names the profile's `includes.arches`/`excludes.arches` use. */
const PROFILE_ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', ia32: 'x86', arm: 'arm' };
/** Node's `process.arch` → the native libseccomp architecture the profile's archMap keys by. */
const SECCOMP_ARCH: Record<string, string> = {
  x64: 'SCMP_ARCH_X86_64',
  arm64: 'SCMP_ARCH_AARCH64',
  ia32: 'SCMP_ARCH_X86',
  arm: 'SCMP_ARCH_ARM',
};

/**
 * Converts the maintained profile to the OCI shape for a process holding `caps`: architectures
 * from its archMap (native plus sub-architectures, so 32-bit calls are filtered too), rules kept
 * or dropped by their includes/excludes (capabilities and arch), then the Docker-parity tightening
 * above. A missing or unreadable profile is an error: a container must not start unfiltered.
 */
export function ociSeccomp(
  caps: readonly string[],
  path = CONTAINERS_SECCOMP_PROFILE,
  arch = process.arch,
): OciSeccomp {
  let profile: ContainersProfile;
  try {
    profile = JSON.parse(readFileSync(path, 'utf8')) as ContainersProfile;
  } catch (err) {
    throw new DriverError(
      'failed',
      `cannot read the seccomp profile ${path} (install golang-github-containers-common): ${(err as Error).message}`,
      { cause: err },
    );
  }
  return convertProfile(profile, caps, arch);
}

export function convertProfile(profile: ContainersProfile, caps: readonly string[], arch: string): OciSeccomp {
  const profileArch = PROFILE_ARCH[arch];
  const native = SECCOMP_ARCH[arch];
  if (!profileArch || !native) throw new DriverError('failed', `no seccomp architecture known for ${arch}`);
  const entry = profile.archMap?.find((a) => a.architecture === native);
  const architectures = [native, ...(entry?.subArchitectures ?? [])];
  const held = new Set(caps);
  const applies = (r: ContainersRule): boolean => {
    const inc = r.includes ?? {};
    const exc = r.excludes ?? {};
    if (inc.caps?.some((c) => !held.has(c))) return false;
    if (inc.arches && inc.arches.length > 0 && !inc.arches.includes(profileArch)) return false;
    if (exc.caps?.some((c) => held.has(c))) return false;
    if (exc.arches?.includes(profileArch)) return false;
    return true;
  };
  const gated = new Set(
    Object.entries(DOCKER_CAP_GATED)
      .filter(([cap]) => !held.has(cap))
      .flatMap(([, names]) => names),
  );
  const syscalls: OciSeccomp['syscalls'] = [];
  for (const rule of profile.syscalls.filter(applies)) {
    const allow = rule.action === 'SCMP_ACT_ALLOW';
    const names = allow ? rule.names.filter((n) => !gated.has(n) && n !== 'clone') : rule.names;
    if (names.length === 0) continue;
    const out: OciSeccomp['syscalls'][number] = { names, action: rule.action };
    if (rule.errnoRet !== undefined) out.errnoRet = rule.errnoRet;
    else if (rule.action === 'SCMP_ACT_ERRNO') out.errnoRet = EPERM;
    if (rule.args && rule.args.length > 0) out.args = rule.args;
    syscalls.push(out);
  }
  if (!held.has('CAP_SYS_ADMIN')) {
    // clone without namespace flags (fork, threads) stays allowed; clone3 cannot be filtered by
    // flags (they are in memory), so it answers ENOSYS and libc falls back to clone, as in Docker.
    syscalls.push({
      names: ['clone'],
      action: 'SCMP_ACT_ALLOW',
      args: [{ index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
    });
    syscalls.push({ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS });
  } else {
    syscalls.push({ names: ['clone'], action: 'SCMP_ACT_ALLOW' });
  }
  return {
    defaultAction: profile.defaultAction,
    ...(profile.defaultErrnoRet !== undefined ? { defaultErrnoRet: profile.defaultErrnoRet } : {}),
    architectures,
    syscalls,
  };
}
