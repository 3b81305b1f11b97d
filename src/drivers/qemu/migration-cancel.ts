import type { QmpMigrationInfo } from './qmp.types.js';

type MigrationStatus = NonNullable<QmpMigrationInfo['status']>;

/** The statuses QEMU leaves a migration in for good; anything else may still move. */
const FINAL: ReadonlySet<MigrationStatus> = new Set(['none', 'completed', 'failed', 'cancelled']);
const POLL_MS = 50;

/** The part of the QMP client this needs (a scripted one in the spec). */
export interface QmpExecutor {
  execute<T = unknown>(command: string, args?: Record<string, unknown>): Promise<T>;
}

/**
 * Where the migration ended after `migrate_cancel`. Only QEMU can say whether a cancel came in
 * time: a migration that completed before the cancel reached it stays completed (the guest now
 * runs on the target only, the source sits in `postmigrate` and must never be resumed), so the
 * caller must read this answer instead of assuming `cancelled`. `undefined` when QEMU did not
 * reach a final status within `settleMs` (or stopped answering): the outcome is unknown.
 */
export async function cancelMigration(c: QmpExecutor, settleMs: number): Promise<MigrationStatus | undefined> {
  await c.execute('migrate_cancel').catch(() => undefined);
  const until = Date.now() + settleMs;
  for (;;) {
    const info = await c.execute<QmpMigrationInfo>('query-migrate').catch(() => undefined);
    if (info) {
      // QEMU answers `{}` when no migration ever started.
      const status = info.status ?? 'none';
      if (FINAL.has(status)) return status;
    }
    if (Date.now() >= until) return undefined;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}
