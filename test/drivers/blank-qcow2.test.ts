import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { blankQcow2Stats, forgetBlankQcow2Templates } from '../../src/drivers/kit/blank-qcow2.js';
import { createQcow2, imageInfo } from '../../src/drivers/kit/qemu-img.js';
import { spawnHelper } from '../../src/drivers/kit/spawn-helper.js';
import { tempDir } from '../support/env.js';

const GiB = 1024 ** 3;

/** `qemu-img check` exits 0 only for an image without errors or leaks. */
function checkImage(path: string): void {
  execFileSync('qemu-img', ['check', '-q', '-f', 'qcow2', path]);
}

describe('blank qcow2 disks: qemu-img once per size, its bytes after that', () => {
  const { dir, cleanup } = tempDir('vl-blank-qcow2-');
  after(() => {
    spawnHelper().stop();
    cleanup();
  });

  test('a second blank disk of a size is the same image qemu-img made, without running qemu-img', async () => {
    forgetBlankQcow2Templates();
    const before = { ...blankQcow2Stats };
    const first = join(dir, 'first.qcow2');
    const second = join(dir, 'second.qcow2');
    await createQcow2(first, GiB);
    await createQcow2(second, GiB);
    assert.deepEqual(
      { created: blankQcow2Stats.created - before.created, copied: blankQcow2Stats.copied - before.copied },
      { created: 1, copied: 1 },
    );
    assert.ok(readFileSync(second).equals(readFileSync(first)));
    checkImage(second);
    const info = await imageInfo(second, { forceShare: false });
    assert.equal(info.format, 'qcow2');
    assert.equal(info['virtual-size'], GiB);
    assert.equal(info['backing-filename'], undefined);
    assert.equal(statSync(second).mode & 0o777, statSync(first).mode & 0o777);
  });

  test('another size gets its own image; an overlay on a base still comes from qemu-img', async () => {
    const before = { ...blankQcow2Stats };
    const bigger = join(dir, 'bigger.qcow2');
    await createQcow2(bigger, 3 * GiB);
    assert.equal((await imageInfo(bigger, { forceShare: false }))['virtual-size'], 3 * GiB);
    checkImage(bigger);
    const overlay = join(dir, 'overlay.qcow2');
    await createQcow2(overlay, GiB, join(dir, 'first.qcow2'));
    const info = await imageInfo(overlay, { forceShare: false });
    assert.equal(info['backing-filename'], join(dir, 'first.qcow2'));
    assert.equal(blankQcow2Stats.copied - before.copied, 0);
  });

  test('writing over an existing file leaves exactly the blank image', async () => {
    const path = join(dir, 'reused.qcow2');
    await createQcow2(path, 3 * GiB);
    execFileSync('qemu-img', ['resize', '-q', '-f', 'qcow2', path, String(5 * GiB)]);
    await createQcow2(path, 3 * GiB);
    assert.ok(readFileSync(path).equals(readFileSync(join(dir, 'bigger.qcow2'))));
    assert.equal((await imageInfo(path, { forceShare: false }))['virtual-size'], 3 * GiB);
  });
});
