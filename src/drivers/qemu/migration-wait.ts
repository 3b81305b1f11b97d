import { DriverError, type CallContext } from '../hypervisor-driver.port.js';
import type { QmpClient } from './qmp.client.js';
import type { QmpMigrationInfo } from './qmp.types.js';
import { report, type Deadline } from './migration-deadline.js';
import { QmpWake } from './qmp-wake.js';

/** Between two `MIGRATION` events, how often `query-migrate` is asked anyway (progress, deadline). */
const PROGRESS_MS = 250;

/**
 * Until QEMU says the migration ended. QEMU sends a `MIGRATION` event at each change of status
 * (with the `events` capability, set before `migrate`), so the wait wakes on that event (a no-OS
 * guest migrates in tens of ms, far less than a poll step); `query-migrate` is still asked at
 * each wake-up and every PROGRESS_MS meanwhile, for the progress report and for the status
 * itself (an event lost with a reconnect costs one step). An event saying `completed` ends the
 * wait without asking again: that is QEMU's final word, and the question would cost a round trip
 * to a QEMU whose guest now runs elsewhere. `failed` is still asked about, for QEMU's reason.
 */
export async function waitForMigration(c: QmpClient, ctx: CallContext, deadline: Deadline): Promise<void> {
  const changed = new QmpWake(c, ['MIGRATION'], ctx.signal);
  try {
    await follow(c, ctx, deadline, changed);
  } finally {
    changed.close();
  }
}

async function follow(c: QmpClient, ctx: CallContext, deadline: Deadline, changed: QmpWake): Promise<void> {
  let total: number | undefined;
  for (;;) {
    if (changed.last?.data?.status === 'completed') {
      report(ctx, {
        message: 'migrating memory (completed)',
        remainingBytes: 0,
        percent: 100,
        ...(total !== undefined ? { totalBytes: total } : {}),
      });
      return;
    }
    const info = await c.execute<QmpMigrationInfo>('query-migrate');
    const ram = info.ram;
    if (ram) {
      total = ram.total;
      const done = info.status === 'completed';
      report(ctx, {
        message: `migrating memory (${info.status ?? 'unknown'})`,
        transferredBytes: ram.transferred,
        remainingBytes: ram.remaining,
        totalBytes: ram.total,
        percent: done
          ? 100
          : ram.total > 0
            ? Math.min(99, Math.floor(((ram.total - ram.remaining) / ram.total) * 100))
            : 0,
      });
    }
    // Checked after QEMU's answer too: an abort seen here may already be too late, which the
    // caller's cancelMigration then finds out from QEMU (completed stays completed).
    deadline.check('migration');
    switch (info.status) {
      case 'completed':
        return;
      case 'failed':
        throw new DriverError('failed', `migration failed: ${info['error-desc'] ?? 'no reason given by QEMU'}`);
      case 'cancelled':
        throw new DriverError('failed', 'migration was cancelled');
      default:
        await changed.next(PROGRESS_MS);
    }
  }
}
