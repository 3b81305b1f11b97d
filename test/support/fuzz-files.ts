/** File-tree snapshots, to prove the fuzzer made no file outside a host's storage directory. */
import { lstatSync, readdirSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

/** Every path under `root` (not following symlinks), relative to it, to `depth` levels. */
export function listTree(root: string, depth = 12): string[] {
  const out: string[] = [];
  const walk = (dir: string, level: number) => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const full = join(dir, name);
      out.push(relative(root, full));
      if (level < depth) {
        try {
          if (lstatSync(full).isDirectory()) walk(full, level + 1);
        } catch {
          // Removed while we looked (another test's temp dir): not ours.
        }
      }
    }
  };
  walk(root, 1);
  return out;
}

/** Paths under `root` whose name contains `marker`. */
export function findMarker(root: string, marker: string, depth: number): string[] {
  return listTree(root, depth)
    .filter((p) => p.includes(marker))
    .map((p) => join(root, p));
}

/**
 * New paths in the data dir other than the event store's files and the
 * storage directories of registered hosts (DATA_DIR/hosts/<hostId>/…).
 */
export function unexpectedNewPaths(before: string[], after: string[], hostIds: string[]): string[] {
  const had = new Set(before);
  const hosts = new Set(hostIds);
  return after.filter((p) => {
    if (had.has(p)) return false;
    const parts = p.split(sep);
    if (parts.length === 1 && /^events\.sqlite3(-wal|-shm|-journal)?$/.test(p)) return false;
    if (parts[0] === 'hosts' && (parts.length === 1 || hosts.has(parts[1]!))) return false;
    // The image catalog and its (emptied) staging dir; an upload left behind would still show.
    if (p === 'images' || p === join('images', '.uploads')) return false;
    return true;
  });
}
