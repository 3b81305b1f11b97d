import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';

/** Redis used by tests; .ci/run starts a private one and exports REDIS_URL. */
export function testRedisUrl(): string {
  return process.env.TEST_REDIS_URL ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
}

/** PostgreSQL used by tests; .ci/run starts a private cluster and exports TEST_POSTGRES_URL. */
export function testPostgresUrl(): string | undefined {
  return process.env.TEST_POSTGRES_URL;
}

/** A unique name for this test's keys/schemas so runs never see each other's leftovers. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
}

/** A fresh temporary directory, removed by the returned cleanup. */
export function tempDir(prefix = 'vl-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
