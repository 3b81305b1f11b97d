import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Migration {
  /** The file name without `.sql`, e.g. `0001_init`; recorded in schema_migrations. */
  version: string;
  sql: string;
}

/**
 * The repository root, found by walking up from this module to the folder holding
 * package.json: the same code runs from `src/` (ts-node, tests) and from
 * `dist/src/` (compiled), and the SQL files are not copied into dist.
 */
export function findRepoRoot(from: string = fileURLToPath(import.meta.url)): string {
  let dir = dirname(from);
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${from}: cannot locate migrations/`);
    dir = parent;
  }
}

/** Numbered `NNNN_name.sql` files of one store kind, in the order they must apply. */
export function loadMigrations(kind: 'sqlite' | 'postgres', migrationsDir?: string): Migration[] {
  const dir = join(migrationsDir ?? join(findRepoRoot(), 'migrations'), kind);
  if (!existsSync(dir)) throw new Error(`migrations directory ${dir} does not exist`);
  return readdirSync(dir)
    .filter((f) => /^\d+_[\w.-]+\.sql$/.test(f))
    .sort((a, b) => Number.parseInt(a, 10) - Number.parseInt(b, 10) || (a < b ? -1 : 1))
    .map((f) => ({ version: f.replace(/\.sql$/, ''), sql: readFileSync(join(dir, f), 'utf8') }));
}
