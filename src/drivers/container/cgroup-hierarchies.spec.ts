import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { canFreeze, detectHierarchies } from './cgroup-hierarchies.js';
import { planCgroups } from './container-cgroups.js';

/**
 * Layouts other machines have (pure v2, pure v1, a nested container) as fake /proc/self files;
 * the v2 mounts point at temp dirs holding the `cgroup.controllers` the detection reads.
 */
describe('cgroup hierarchy detection (fixture /proc/self, no cgroup touched)', () => {
  const root = mkdtempSync(join(tmpdir(), 'vl-cgspec-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  let n = 0;

  function fixture(mountinfo: string[], cgroup: string[], v2Controllers?: string): { proc: string; v2: string } {
    const proc = join(root, `proc${n++}`);
    const v2 = join(proc, 'v2mnt');
    mkdirSync(v2, { recursive: true });
    if (v2Controllers !== undefined) writeFileSync(join(v2, 'cgroup.controllers'), `${v2Controllers}\n`);
    writeFileSync(join(proc, 'mountinfo'), mountinfo.map((l) => l.replace('V2MNT', v2)).join('\n'));
    writeFileSync(join(proc, 'cgroup'), cgroup.join('\n'));
    return { proc, v2 };
  }

  it('pure v2: every controller and the freezer from the unified tree, under the worker’s own cgroup', () => {
    const { proc, v2 } = fixture(
      ['35 24 0:30 / V2MNT rw,nosuid - cgroup2 cgroup2 rw,nsdelegate'],
      ['0::/system.slice/virtledger-worker.service'],
      'cpuset cpu io memory hugetlb pids rdma misc',
    );
    const hs = detectHierarchies(undefined, proc);
    assert.deepEqual(hs, [
      {
        version: 2,
        mount: v2,
        controllers: ['memory', 'cpu', 'pids'],
        base: join(v2, 'system.slice/virtledger-worker.service/virtledger'),
      },
    ]);
    const plan = planCgroups(hs, 'host1', 'vm1');
    const dir = join(v2, 'system.slice/virtledger-worker.service/virtledger/host1/vm1');
    assert.deepEqual(plan, {
      memory: { version: 2, dir },
      cpu: { version: 2, dir },
      pids: { version: 2, dir },
      freezer: { version: 2, dir },
      dirs: [dir],
    });
    assert.equal(detectHierarchies('/virtledger', proc)[0]?.base, join(v2, 'virtledger'));
  });

  it('hybrid (as on CI): limits from v1, the freezer from cgroup2, v1 bases follow the worker’s own paths', () => {
    const { proc, v2 } = fixture(
      [
        '32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu',
        '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
        '37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer',
        '39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids',
        '40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd',
        '41 31 0:38 / V2MNT rw,relatime - cgroup2 cgroup2 rw',
      ],
      ['9:name=systemd:/', '8:pids:/', '6:freezer:/', '4:memory:/process_api/abc', '1:cpu:/', '0::/'],
      '',
    );
    const hs = detectHierarchies(undefined, proc);
    assert.deepEqual(
      hs.map((h) => [h.version, h.controllers.join(','), h.base]),
      [
        [1, 'cpu', '/sys/fs/cgroup/cpu/virtledger'],
        [1, 'memory', '/sys/fs/cgroup/memory/process_api/abc/virtledger'],
        [1, 'freezer', '/sys/fs/cgroup/freezer/virtledger'],
        [1, 'pids', '/sys/fs/cgroup/pids/virtledger'],
        [2, '', join(v2, 'virtledger')],
      ],
    );
    const plan = planCgroups(hs, 'h', 'v');
    assert.deepEqual(plan.memory, { version: 1, dir: '/sys/fs/cgroup/memory/process_api/abc/virtledger/h/v' });
    assert.deepEqual(plan.cpu, { version: 1, dir: '/sys/fs/cgroup/cpu/virtledger/h/v' });
    assert.deepEqual(plan.freezer, { version: 2, dir: join(v2, 'virtledger/h/v') });
    assert.equal(plan.dirs.length, 4);
    assert.deepEqual(planCgroups(hs, 'h', 'v', 'v1').freezer, {
      version: 1,
      dir: '/sys/fs/cgroup/freezer/virtledger/h/v',
    });
    const v1Plan = planCgroups(hs, 'h', 'v', 'v1');
    assert.equal(v1Plan.dirs.length, 4);
    assert.ok(!v1Plan.dirs.some((d) => d.startsWith(v2)), 'no cgroup2 dir made when it is not used');
  });

  it('pure v1 with cpu,cpuacct co-mounted: the v1 freezer; a nested container’s own path is made relative', () => {
    const { proc } = fixture(
      [
        '32 31 0:29 /docker/abc /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct',
        '33 31 0:30 /docker/abc /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory',
        '34 31 0:31 /docker/abc /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids',
        '35 31 0:32 /docker/abc /sys/fs/cgroup/freezer rw - cgroup cgroup rw,freezer',
      ],
      ['4:memory:/docker/abc/worker', '3:cpu,cpuacct:/docker/abc', '2:pids:/docker/abc', '1:freezer:/docker/abc'],
    );
    const hs = detectHierarchies(undefined, proc);
    assert.equal(hs.find((h) => h.controllers.includes('memory'))?.base, '/sys/fs/cgroup/memory/worker/virtledger');
    assert.equal(hs.find((h) => h.controllers.includes('cpu'))?.base, '/sys/fs/cgroup/cpu,cpuacct/virtledger');
    assert.ok(canFreeze(hs));
    assert.deepEqual(planCgroups(hs, 'h', 'v').freezer, {
      version: 1,
      dir: '/sys/fs/cgroup/freezer/virtledger/h/v',
    });
    assert.throws(() => planCgroups(hs, 'h', 'v', 'v2'), /freezer=v2 asked, but no cgroup2 is mounted/);
  });

  it('a missing controller or freezer is an error naming what was found, not a container without limits', () => {
    const { proc } = fixture(['32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu'], ['1:cpu:/']);
    const hs = detectHierarchies(undefined, proc);
    assert.equal(canFreeze(hs), false);
    assert.throws(
      () => planCgroups(hs, 'h', 'v'),
      /no memory cgroup controller on this host \(hierarchies: v1 \/sys\/fs\/cgroup\/cpu \[cpu\]\)/,
    );
    assert.deepEqual(detectHierarchies(undefined, join(root, 'nowhere')), []);
  });
});
