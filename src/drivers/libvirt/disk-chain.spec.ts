import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  chainOf,
  planCompaction,
  planRemoval,
  revertBlockers,
  unneededImages,
  type ChainImage,
  type ChainRecord,
} from './disk-chain.js';

const DIR = '/s/vm1';
const f = (n: number | 'base') =>
  n === 0 ? `${DIR}/disk.qcow2` : n === 'base' ? '/images/base.qcow2' : `${DIR}/disk.${n}.qcow2`;
const img = (n: number, backing?: number | 'base', internal: string[] = []): ChainImage => ({
  file: f(n),
  ...(backing === undefined ? {} : { backing: f(backing) }),
  internal,
});
const rec = (...snaps: [string, number][]): ChainRecord => ({
  seq: 9,
  snapshots: snaps.map(([name, n]) => ({ name, image: f(n), createdAt: '2026-11-27T00:00:00.000Z' })),
});

describe('disk chain planning', () => {
  test('chainOf follows backing files down from the disk, stopping outside the known files', () => {
    const images = [img(0, 'base'), img(1, 0), img(2, 1), img(3, 0)];
    assert.deepEqual(chainOf(images, f(2)), [f(2), f(1), f(0)]);
    assert.deepEqual(chainOf(images, f(3)), [f(3), f(0)]);
  });

  test('the disk merges into its backing file only when no snapshot, sibling or memory snapshot would lose by it', () => {
    // Taking then deleting the newest snapshot: the overlay goes back into disk.qcow2.
    assert.deepEqual(planCompaction([img(0), img(1, 0)], f(1), rec(), DIR), { top: f(1), base: f(0) });
    // Memory snapshots in the backing file survive a commit (copy on write), so they do not stop it.
    assert.deepEqual(planCompaction([img(0, undefined, ['m']), img(1, 0)], f(1), rec(), DIR), {
      top: f(1),
      base: f(0),
    });
    assert.equal(
      planCompaction([img(0), img(1, 0)], f(1), rec(['s', 0]), DIR),
      undefined,
      'a snapshot is frozen in it',
    );
    assert.equal(planCompaction([img(0), img(1, 0, ['m'])], f(1), rec(), DIR), undefined, 'the disk holds memory');
    assert.equal(planCompaction([img(0), img(1, 0), img(2, 0)], f(1), rec(), DIR), undefined, 'another child reads it');
    assert.equal(planCompaction([img(1, 'base')], f(1), rec(), DIR), undefined, 'a base image is not ours to write');
    assert.equal(planCompaction([img(0)], f(0), rec(), DIR), undefined, 'a single file');
  });

  test('a backing file no snapshot names is rebased away: live through a blockpull, the rest offline', () => {
    // disk.qcow2 under disk.1 (snapshot s2) under the running disk.2, and a revert branch disk.3.
    const images = [img(0, 'base'), img(1, 0), img(2, 1), img(3, 0)];
    assert.deepEqual(planRemoval(images, f(2), f(0), true), {
      kind: 'rebase',
      frozen: f(0),
      parent: f('base'),
      pull: f(2),
      rebase: [f(1), f(3)],
    });
    // Stopped: every child is rebased offline, the disk included when it is a child.
    assert.deepEqual(planRemoval([img(0), img(1, 0), img(2, 0)], f(2), f(0), false), {
      kind: 'rebase',
      frozen: f(0),
      rebase: [f(1), f(2)],
    });
  });

  test('memory snapshots pin a backing file: in it, in a child to rebase, or in the disk a blockpull rewrites', () => {
    assert.deepEqual(planRemoval([img(0, undefined, ['m']), img(1, 0), img(2, 0)], f(2), f(0), false), {
      kind: 'keep',
      frozen: f(0),
      pinnedBy: ['m'],
    });
    assert.equal(planRemoval([img(0), img(1, 0, ['m']), img(2, 0)], f(2), f(0), false).kind, 'keep');
    const underRunningDisk = [img(0), img(1, 0), img(2, 1, ['m'])];
    assert.equal(planRemoval(underRunningDisk, f(2), f(0), true).kind, 'keep', 'the pull would rewrite m');
    assert.equal(planRemoval(underRunningDisk, f(2), f(0), false).kind, 'rebase', 'stopped: only disk.1 is rebased');
  });

  test('unneeded files are found to a fixed point; the disk, frozen files, pending overlays and base images stay', () => {
    // disk.3 was the disk before a revert; disk.2 only fed it.
    const images = [img(0, 'base'), img(1, 0), img(2, 1), img(3, 2), img(4, 0)];
    assert.deepEqual(unneededImages(images, f(4), rec(['s1', 0]), DIR).sort(), [f(1), f(2), f(3)]);
    assert.deepEqual(unneededImages(images, f(4), rec(['s1', 0], ['s2', 2]), DIR).sort(), [f(3)]);
    const pending: ChainRecord = { seq: 9, snapshots: [{ name: 'p', image: f(4), createdAt: 'x', pending: f(3) }] };
    assert.deepEqual(unneededImages(images, f(4), pending, DIR), [], 'disk.3 is an overlay being made');
    assert.deepEqual(unneededImages([img(1, 0, ['m']), img(0), img(2, 0)], f(2), rec(), DIR), []);
    assert.deepEqual(unneededImages([{ file: f('base'), internal: [] }, img(0, 'base')], f(0), rec(), DIR), []);
  });

  test('a memory snapshot cannot be reverted to once disk-only snapshots build on its file', () => {
    const images = [img(0, undefined, ['m']), img(1, 0), img(2, 1, ['later'])];
    assert.deepEqual(revertBlockers(images, f(0), rec(['s1', 0])), ['s1', 'later']);
    assert.deepEqual(revertBlockers(images, f(2), rec(['s1', 0])), [], 'the newest file: nothing reads through it');
    assert.deepEqual(revertBlockers([img(0, undefined, ['m'])], f(0), rec()), []);
  });
});
