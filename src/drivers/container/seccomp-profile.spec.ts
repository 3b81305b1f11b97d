import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, test } from 'node:test';
import { CONTAINER_CAPS } from './oci-config.js';
import { CONTAINERS_SECCOMP_PROFILE, convertProfile, ociSeccomp } from './seccomp-profile.js';

const allowed = (p: ReturnType<typeof convertProfile>): Set<string> =>
  new Set(p.syscalls.filter((r) => r.action === 'SCMP_ACT_ALLOW' && !r.args).flatMap((r) => r.names));

describe('seccomp: the containers profile converted to the OCI shape', () => {
  const profile = {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: 38,
    archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] }],
    syscalls: [
      { names: ['read', 'mount', 'unshare', 'clone', 'ptrace'], action: 'SCMP_ACT_ALLOW' },
      { names: ['arch_prctl'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['amd64'] } },
      { names: ['sync_file_range2'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['ppc64le'] } },
      { names: ['chroot'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_CHROOT'] } },
      { names: ['chroot'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, excludes: { caps: ['CAP_SYS_CHROOT'] } },
    ],
  };

  test('architectures from archMap; rules kept or dropped by arch and capability', () => {
    const p = convertProfile(profile, ['CAP_KILL'], 'x64');
    assert.deepEqual(p.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
    assert.equal(p.defaultAction, 'SCMP_ACT_ERRNO');
    assert.equal(p.defaultErrnoRet, 38);
    const allow = allowed(p);
    assert.ok(allow.has('read') && allow.has('arch_prctl') && allow.has('ptrace'));
    assert.ok(!allow.has('sync_file_range2'), 'another arch only');
    assert.ok(!allow.has('chroot'), 'needs CAP_SYS_CHROOT');
    assert.deepEqual(
      p.syscalls.find((r) => r.names.includes('chroot')),
      { names: ['chroot'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
      'the excludes rule applies without the capability',
    );
  });

  test('Docker parity: mount, unshare and namespace clones need CAP_SYS_ADMIN, which containers never hold', () => {
    const p = convertProfile(profile, ['CAP_KILL'], 'x64');
    assert.ok(!allowed(p).has('mount') && !allowed(p).has('unshare'));
    assert.deepEqual(
      p.syscalls.find((r) => r.names.includes('clone')),
      {
        names: ['clone'],
        action: 'SCMP_ACT_ALLOW',
        args: [{ index: 0, value: 0x7e020000, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
      },
    );
    assert.deepEqual(
      p.syscalls.find((r) => r.names.includes('clone3')),
      {
        names: ['clone3'],
        action: 'SCMP_ACT_ERRNO',
        errnoRet: 38,
      },
    );
    const admin = convertProfile(profile, ['CAP_SYS_ADMIN', 'CAP_SYS_CHROOT'], 'x64');
    assert.ok(allowed(admin).has('mount') && allowed(admin).has('clone') && allowed(admin).has('chroot'));
  });

  test(
    "Debian's installed profile converts for the containers' capability set",
    { skip: !existsSync(CONTAINERS_SECCOMP_PROFILE) },
    () => {
      const p = ociSeccomp(CONTAINER_CAPS);
      const allow = allowed(p);
      assert.ok(allow.size > 300, `a full allow list (${allow.size} calls), not a short hand-written one`);
      for (const call of ['mount', 'unshare', 'setns', 'init_module', 'finit_module', 'chroot', 'kexec_load', 'bpf']) {
        assert.ok(!allow.has(call), `${call} is not allowed`);
      }
      for (const call of ['read', 'write', 'execve', 'openat', 'setuid', 'chown']) assert.ok(allow.has(call), call);
    },
  );

  test('an unreadable profile is an error, never an unfiltered container', () => {
    assert.throws(() => ociSeccomp(CONTAINER_CAPS, '/nonexistent/seccomp.json'), /golang-github-containers-common/);
  });
});
