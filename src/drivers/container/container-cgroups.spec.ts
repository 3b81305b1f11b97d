import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { thaw, type CgroupPlan } from './container-cgroups.js';

/** A plan whose every controller is `dir` (fixture files, no real cgroup touched). */
function planAt(dir: string, version: 1 | 2): CgroupPlan {
  const at = { version, dir };
  return { dirs: [dir], memory: at, cpu: at, pids: at, freezer: at };
}

describe('thaw (fixture cgroup files)', () => {
  const root = mkdtempSync(join(tmpdir(), 'vl-thaw-spec-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  it('writes the thaw and returns once the cgroup reads thawed', async () => {
    const dir = join(root, 'present');
    mkdirSync(dir);
    writeFileSync(join(dir, 'cgroup.freeze'), '1\n');
    writeFileSync(join(dir, 'cgroup.events'), 'populated 1\nfrozen 0\n');
    await thaw(planAt(dir, 2));
    assert.equal(readFileSync(join(dir, 'cgroup.freeze'), 'utf8'), '0');
  });

  // Two workers stopping one container (a redelivered job beside a restarted worker): the first
  // removes the cgroup while the second is about to thaw it. Nothing is frozen there any more.
  for (const version of [1, 2] as const) {
    it(`a v${version} cgroup already removed is done, not an error`, async () => {
      await thaw(planAt(join(root, `gone-v${version}`), version));
    });
  }
});
