import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findRepoRoot, loadMigrations } from './migrations.js';

describe('migrations', () => {
  test('the repository root is found from the compiled location by walking up to package.json', () => {
    const root = findRepoRoot(fileURLToPath(import.meta.url));
    assert.ok(existsSync(join(root, 'package.json')));
    assert.ok(existsSync(join(root, 'migrations')));
  });

  test('SQL files load in numeric order for both stores', () => {
    for (const kind of ['sqlite', 'postgres'] as const) {
      const migrations = loadMigrations(kind);
      assert.equal(migrations[0]?.version, '0001_init');
      assert.match(migrations[0]?.sql ?? '', /CREATE TABLE events/);
      const numbers = migrations.map((m) => Number.parseInt(m.version, 10));
      assert.deepEqual(
        numbers,
        [...numbers].sort((a, b) => a - b),
      );
    }
  });
});
