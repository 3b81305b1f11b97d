import { chmodSync, lchownSync, lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Every container's root (uid/gid 0) is host uid/gid 100000, and its ids 0–65535 are host
 * 100000–165535: the range LXC, Incus and Podman use by default for subordinate ids, above any
 * real user of the host. One range for all containers, as Incus does by default (not its
 * `security.idmap.isolated`): snapshots, reverts and cold migrations copy files with their owners
 * unchanged, and the line that matters — container root is not host root, and owns no host file
 * — holds either way. Containers are kept apart from each other by their namespaces and mounts.
 */
export const ID_MAP_BASE = 100_000;
export const ID_MAP_SIZE = 65_536;
/** `nobody`: where an id the container cannot map (a host owner outside 0–65535) ends up. */
const OVERFLOW_ID = 65_534;

/** A host id as the container's range holds it: already inside stays, 0–65535 shifts, others become nobody. */
export function shiftedId(id: number): number {
  if (id >= ID_MAP_BASE && id < ID_MAP_BASE + ID_MAP_SIZE) return id;
  if (id < ID_MAP_SIZE) return id + ID_MAP_BASE;
  return ID_MAP_BASE + OVERFLOW_ID;
}

/**
 * Gives the tree to the container's range (idempotent: a tree shifted once, a migrated one or an
 * old one owned by host root all end up in the range). lchown never follows a link, so a link
 * in an image cannot aim the chown at a host file. chown clears setuid/setgid bits; they are put
 * back, as the image had them (no_new_privs makes them inert for gaining privileges anyway).
 */
export function shiftTree(root: string): void {
  const stack = [root];
  while (stack.length > 0) {
    const path = stack.pop() as string;
    const st = lstatSync(path);
    const uid = shiftedId(st.uid);
    const gid = shiftedId(st.gid);
    if (uid !== st.uid || gid !== st.gid) {
      lchownSync(path, uid, gid);
      if (!st.isSymbolicLink() && (st.mode & 0o6000) !== 0) chmodSync(path, st.mode & 0o7777);
    }
    if (st.isDirectory()) for (const name of readdirSync(path)) stack.push(join(path, name));
  }
}
