import type { Resources } from './host.events.js';

/**
 * What each VM holds on a host, vmId → resources, kept in buckets by a hash of the id. Evolve
 * is pure, so a reservation or a release makes a new value: with one flat record that was a
 * copy of every VM's entry per event (a host with thousands of VMs paid thousands of copies
 * per create and per delete); here it copies the bucket index and the one bucket touched.
 * Plain JSON (snapshots and caches keep it as is); read it only through the functions below.
 */
export type Allocations = Readonly<Record<string, Readonly<Record<string, Resources>>>>;

/** Buckets at most: a few thousand VMs make buckets of tens of entries. */
const BUCKETS = 64;

/** FNV-1a over the id's UTF-16 units: the same bucket for the same id in every process. */
function bucketOf(vmId: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < vmId.length; i++) h = Math.imul(h ^ vmId.charCodeAt(i), 0x01000193);
  return String((h >>> 0) % BUCKETS);
}

export function allocationOf(a: Allocations, vmId: string): Resources | undefined {
  return a[bucketOf(vmId)]?.[vmId];
}

/** `a` with the VM holding `held` (or nothing: undefined takes it out); `a` itself is left as it was. */
export function withAllocation(a: Allocations, vmId: string, held: Resources | undefined): Allocations {
  const b = bucketOf(vmId);
  const bucket = a[b];
  if (held) return { ...a, [b]: { ...bucket, [vmId]: held } };
  if (!bucket || !(vmId in bucket)) return a;
  // Rest spreads leave no deleted property behind (a delete would turn the copy into a slow dictionary).
  const { [vmId]: _gone, ...rest } = bucket;
  const { [b]: _old, ...others } = a;
  return Object.keys(rest).length ? { ...others, [b]: rest } : others;
}

export function allocationCount(a: Allocations): number {
  let n = 0;
  for (const bucket of Object.values(a)) n += Object.keys(bucket).length;
  return n;
}

/** The VMs holding capacity, ordered by id. */
export function allocatedVmIds(a: Allocations): string[] {
  return allocationEntries(a).map(([vmId]) => vmId);
}

/** Every VM and what it holds, ordered by VM id (bucket order means nothing to a reader). */
export function allocationEntries(a: Allocations): Array<[string, Resources]> {
  const out: Array<[string, Resources]> = [];
  for (const bucket of Object.values(a)) for (const e of Object.entries(bucket)) out.push(e);
  return out.sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
}
