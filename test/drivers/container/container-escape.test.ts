/**
 * Issue #12, item 1: a container is not host root. Each escape of the security review is tried
 * from inside a real running container, as its own processes run (`runc exec`: its user
 * namespace, capabilities, no_new_privs and seccomp filter), and must fail; ordinary work must
 * still succeed.
 */
import { lstatSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ContainerTestEnv, confined, containerSkipReason, eventually, vmSpec } from './container-test-env.js';

const skip = containerSkipReason();

/** CapEff of the container's processes: chown, dac_override, fowner, fsetid, kill, setgid, setuid, setpcap, net_bind_service, audit_write. */
const EXPECTED_CAP_EFF = '00000000200005fb';
const CAP_SYS_ADMIN = 21n;
const CAP_SYS_MODULE = 16n;
const CAP_MKNOD = 27n;
const CAP_SYS_CHROOT = 18n;
const CAP_SYS_PTRACE = 19n;

/** major:minor of the host's root filesystem, from the host's mountinfo: the disk an escape would mount. */
function hostRootDevice(): string {
  const line = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .find((l) => l.split(' ')[4] === '/');
  return line?.split(' ')[2] ?? '254:0';
}

describe('container escapes fail (issue #12): a container is not host root', { skip }, () => {
  const env = new ContainerTestEnv();
  const driver = env.driver(env.hostId('ct-esc'));
  const spec = vmSpec({ memoryMiB: 48 });
  let initPid = 0;
  const run = (script: string): { status: number; out: string } => confined(driver, spec.id, script);

  before(async () => {
    await driver.define(spec);
    await driver.start(spec);
    initPid = (await driver.status(spec)).pid as number;
  });
  after(() => env.cleanup());

  test('the init and every process: root mapped to host uid 100000, 10 capabilities, no_new_privs, seccomp filter', () => {
    for (const status of [readFileSync(`/proc/${initPid}/status`, 'utf8'), run('cat /proc/self/status').out]) {
      assert.match(status, new RegExp(`^CapEff:\\s+${EXPECTED_CAP_EFF}$`, 'm'));
      assert.match(status, new RegExp(`^CapBnd:\\s+${EXPECTED_CAP_EFF}$`, 'm'), 'no capability can be regained');
      assert.match(status, /^NoNewPrivs:\s+1$/m);
      assert.match(status, /^Seccomp:\s+2$/m);
      const eff = BigInt(`0x${/^CapEff:\s+(\w+)$/m.exec(status)?.[1] ?? '0'}`);
      for (const cap of [CAP_SYS_ADMIN, CAP_SYS_MODULE, CAP_MKNOD, CAP_SYS_CHROOT, CAP_SYS_PTRACE]) {
        assert.equal((eff >> cap) & 1n, 0n, `capability ${cap} is not held`);
      }
    }
    assert.match(readFileSync(`/proc/${initPid}/status`, 'utf8'), /^Uid:\s+100000\s+100000\s+100000\s+100000$/m);
    assert.deepEqual(run('cat /proc/self/uid_map /proc/self/gid_map').out.trim().split(/\s+/), [
      '0',
      '100000',
      '65536',
      '0',
      '100000',
      '65536',
    ]);
    assert.equal(run('id -u').out.trim(), '0', 'root inside');
  });

  test('mknod of the host disk and mounting it fail', () => {
    const [major, minor] = hostRootDevice().split(':');
    const r = run(
      `mknod /tmp/hd b ${major} ${minor}; echo "mknod=$?"; mkdir -p /mnt; mount /tmp/hd /mnt; echo "mount=$?"; ` +
        `mount -t ext4 /dev/vda /mnt; echo "mount2=$?"; ls /mnt | wc -l`,
    );
    assert.match(r.out, /mknod=[1-9]/);
    assert.match(r.out, /mount=[1-9]/);
    assert.match(r.out, /mount2=[1-9]/);
    assert.match(r.out, /Operation not permitted|Permission denied/);
    assert.match(r.out, /^0$/m, '/mnt stays empty');
  });

  test('writing /proc/sysrq-trigger, core_pattern or other kernel knobs fails; masked paths read empty', () => {
    const corePattern = readFileSync('/proc/sys/kernel/core_pattern', 'utf8');
    const r = run(
      'echo b > /proc/sysrq-trigger; echo "sysrq=$?"; echo "|/tmp/x" > /proc/sys/kernel/core_pattern; echo "core=$?"; ' +
        'echo 3 > /proc/sys/vm/drop_caches; echo "drop=$?"; echo /tmp/x > /sys/kernel/uevent_helper; echo "sys=$?"; ' +
        'echo "keys=$(cat /proc/keys | wc -c) timers=$(cat /proc/timer_list | wc -c)"',
    );
    assert.match(r.out, /sysrq=[1-9]/);
    assert.match(r.out, /core=[1-9]/);
    assert.match(r.out, /drop=[1-9]/);
    assert.match(r.out, /sys=[1-9]/);
    assert.match(r.out, /Read-only file system/);
    assert.equal(
      readFileSync('/proc/sys/kernel/core_pattern', 'utf8'),
      corePattern,
      'the host core_pattern is unchanged',
    );
    assert.match(r.out, /keys=0 timers=0/, '/proc/keys and /proc/timer_list are masked');
  });

  test('loading a kernel module fails (insmod → init_module refused)', () => {
    const r = run(
      'head -c 4096 /dev/urandom > /tmp/evil.ko; insmod /tmp/evil.ko; echo "insmod=$?"; modprobe dummy; echo "modprobe=$?"',
    );
    assert.match(r.out, /insmod=[1-9]/);
    assert.match(r.out, /modprobe=[1-9]/);
    assert.match(r.out, /Operation not permitted/, 'refused before the kernel reads the module');
  });

  test('unshare of a new user (and mount) namespace to regain capabilities fails, so mount and mknod stay refused', () => {
    const r = run(
      'unshare -U -r -m sh -c "mount -t tmpfs t /mnt && echo MOUNTED; mknod /tmp/hd2 b 254 0 && echo MKNOD"; echo "unshare=$?"; ' +
        'nsenter -t 1 -m true; echo "nsenter=$?"',
    );
    assert.match(r.out, /unshare=[1-9]/);
    assert.match(r.out, /nsenter=[1-9]/);
    assert.doesNotMatch(r.out, /MOUNTED|MKNOD/);
  });

  test('the double-chroot breakout fails at its first chroot', () => {
    const r = run(
      'mkdir -p /tmp/jail; chroot /tmp/jail /bin/true; echo "chroot=$?"; ' +
        'cd / && chroot . /bin/sh -c "cd ../../../../..; chroot . /bin/ls /" ; echo "double=$?"',
    );
    assert.match(r.out, /chroot=[1-9]/);
    assert.match(r.out, /double=[1-9]/);
    assert.match(r.out, /Operation not permitted/);
  });

  test('a host process cannot be seen, signalled or traced: the pid namespace hides it', () => {
    const hostPid = process.pid;
    const r = run(
      `test -e /proc/${hostPid}/status && echo VISIBLE; kill -0 ${hostPid}; echo "kill=$?"; ` +
        `echo "procs=$(ls /proc | grep -c '^[0-9]')"`,
    );
    assert.doesNotMatch(r.out, /VISIBLE/);
    assert.match(r.out, /kill=[1-9]/);
    const procs = Number(/procs=(\d+)/.exec(r.out)?.[1]);
    assert.ok(procs > 0 && procs < 20, `only the container's own few processes are listed (${procs})`);
  });

  test('"root" writes no host-owned file, and what it writes is owned by uid 100000 on the host', () => {
    const rootfs = driver.domainPaths(spec.id).rootfs;
    const hostOwned = join(rootfs, 'root', 'host-owned');
    writeFileSync(hostOwned, 'host\n', { mode: 0o644 });
    const r = run(
      'echo pwned >> /root/host-owned; echo "append=$?"; echo mine > /root/mine; stat -c "%u" /root/host-owned',
    );
    assert.match(r.out, /append=[1-9]/);
    assert.match(r.out, /Permission denied/);
    assert.equal(readFileSync(hostOwned, 'utf8'), 'host\n', 'the host file is unchanged');
    assert.match(r.out, /^65534$/m, 'a host-root file is nobody inside');
    assert.equal(lstatSync(join(rootfs, 'root', 'mine')).uid, 100000, 'written as host uid 100000, not 0');
    assert.equal(statSync(rootfs).uid, 100000, 'the root filesystem belongs to the container range');
  });

  test('ordinary work succeeds: a process tree, files, chown to a service user; the memory limit kills a hog', async () => {
    const tree = run(
      // stdio of the background ones away from runc exec's pipe, or it waits for them
      'sleep 30 >/dev/null 2>&1 & sleep 30 >/dev/null 2>&1 & (sleep 30 >/dev/null 2>&1 &); ' +
        // forked at once, but exec'd a moment later: wait for the three, with a deadline
        'for i in $(seq 250); do n=$(ps -o args | grep -c "^sleep 30"); [ "$n" -ge 3 ] && break; usleep 20000; done; echo "$n"; ' +
        'mkdir -p /srv/app && echo data > /srv/app/f && chown 1000:1000 /srv/app/f && cat /srv/app/f && ' +
        'echo "svc:x:1000:1000::/:/bin/sh" >> /etc/passwd && su -s /bin/sh svc -c "id -u"',
    );
    assert.equal(tree.status, 0, tree.out);
    assert.deepEqual(tree.out.trim().split('\n'), ['3', 'data', '1000']);
    assert.equal(lstatSync(join(driver.domainPaths(spec.id).rootfs, 'srv', 'app', 'f')).uid, 101000);
    const hog = run('dd if=/dev/zero of=/dev/null bs=96M count=1; echo "dd=$?"');
    assert.match(hog.out, /dd=(137|[1-9])/, 'a 96 MiB buffer in a 48 MiB container is killed');
    assert.ok(await eventually(() => run('echo alive').out.trim() === 'alive'), 'the container keeps running');
    assert.equal((await driver.status(spec)).state, 'running');
  });

  test('filling the disk stops at diskGiB (ENOSPC inside), and the image on the host stays within it', () => {
    // fallocate asks for more than the disk (refused), then takes all but 64 MiB at once (no data
    // written), and dd writes real blocks past the end.
    const r = run(
      `df -k / | tail -1; fallocate -l ${spec.diskGiB + 1}G /too-big; echo "falloc=$?"; rm -f /too-big; ` +
        "fallocate -l $(( $(df -k / | awk 'NR==2 {print $4}') - 65536 ))k /fill1; " +
        'dd if=/dev/zero of=/fill bs=1M count=256; echo "dd=$?"; ' +
        'echo "size=$(( $(wc -c < /fill1) + $(wc -c < /fill) ))"; rm -f /fill /fill1; echo after > /root/after && cat /root/after',
    );
    assert.match(r.out, /falloc=[1-9]/);
    assert.match(r.out, /No space left on device/);
    assert.match(r.out, /dd=[1-9]/);
    const written = Number(/size=(\d+)/.exec(r.out)?.[1]);
    assert.ok(written > 0 && written <= spec.diskGiB * 1024 ** 3, `stopped within ${spec.diskGiB} GiB (${written})`);
    const total = Number(/^\S+\s+(\d+)/m.exec(r.out)?.[1]) * 1024;
    assert.ok(total <= spec.diskGiB * 1024 ** 3, `the root filesystem is ${total} bytes, at most diskGiB`);
    const image = statSync(driver.domainPaths(spec.id).diskImage);
    assert.ok(image.blocks * 512 <= spec.diskGiB * 1024 ** 3, 'the host gave it no more than diskGiB');
    assert.match(r.out, /^after$/m, 'freed space is usable again');
  });
});
