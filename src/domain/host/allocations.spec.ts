import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  allocatedVmIds,
  allocationCount,
  allocationEntries,
  allocationOf,
  withAllocation,
  type Allocations,
} from './allocations.js';

const r = (vcpus: number) => ({ vcpus, memoryMiB: 64 * vcpus });

describe('host allocations (bucketed)', () => {
  test('reads back what was put, counts and lists every VM, and leaves the former value as it was', () => {
    let a: Allocations = {};
    const states: Allocations[] = [a];
    for (let i = 0; i < 500; i++) states.push((a = withAllocation(a, `vm-${i}`, r(1 + (i % 4)))));
    assert.equal(allocationCount(a), 500);
    assert.deepEqual(allocationOf(a, 'vm-7'), r(4));
    assert.equal(allocationOf(a, 'vm-500'), undefined);
    assert.deepEqual(allocatedVmIds(a), [...Array(500).keys()].map((i) => `vm-${i}`).sort());
    // Every earlier value is intact: evolve may hand out the new one while the old is still read.
    assert.equal(allocationCount(states[100]!), 100);
    assert.equal(allocationOf(states[100]!, 'vm-100'), undefined);
  });

  test('a resize replaces, a release takes out, an empty bucket goes: none of it changes the value it came from', () => {
    const one = withAllocation({}, 'a', r(1));
    const resized = withAllocation(one, 'a', r(2));
    assert.deepEqual(allocationEntries(resized), [['a', r(2)]]);
    assert.deepEqual(allocationEntries(one), [['a', r(1)]]);
    const gone = withAllocation(resized, 'a', undefined);
    assert.deepEqual(gone, {}, 'no empty bucket left behind: it reads (and serialises) as an empty host');
    assert.equal(withAllocation(gone, 'never-there', undefined), gone);
    assert.deepEqual(allocationEntries(resized), [['a', r(2)]]);
  });

  test('an event copies one bucket, not every VM: most buckets are shared with the value before', () => {
    let a: Allocations = {};
    for (let i = 0; i < 2000; i++) a = withAllocation(a, `vm-${i}`, r(1));
    const b = withAllocation(a, 'vm-new', r(1));
    const shared = Object.keys(b).filter((k) => b[k] === a[k]).length;
    assert.equal(shared, Object.keys(a).length - 1);
    assert.ok(Object.keys(a).length > 32, 'thousands of VMs spread over many buckets');
  });

  test('plain JSON: a snapshot or a cache round trip reads the same', () => {
    let a: Allocations = {};
    for (let i = 0; i < 50; i++) a = withAllocation(a, `vm-${i}`, r(i + 1));
    const back = JSON.parse(JSON.stringify(a)) as Allocations;
    assert.deepEqual(allocationEntries(back), allocationEntries(a));
    assert.deepEqual(allocationOf(back, 'vm-9'), r(10));
  });
});
