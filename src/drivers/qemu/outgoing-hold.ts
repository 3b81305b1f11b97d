import type { QemuDomain } from './qemu-domain.js';
import type { QmpClient } from './qmp.client.js';
import type { QmpEvent, QmpStatusInfo } from './qmp.types.js';

/** How long a source stays ready for a migrate that does not come (its target failed to prepare). */
export const OUTGOING_HOLD_MS = 30_000;
/** A QEMU that does not take a connection this fast is busy: the migrate connects as it always did. */
const CONNECT_MS = 2_000;

/**
 * A live migration's parameters: the bandwidth cap, and QEMU's MIGRATION events (waitForMigration
 * wakes on them). Harmless to a VM that then does not migrate.
 */
export function setMigrationParameters(c: QmpClient, dom: QemuDomain): Promise<unknown> {
  return Promise.all([
    c.execute('migrate-set-parameters', { 'max-bandwidth': dom.host.config.migrationBandwidth }),
    c.execute('migrate-set-capabilities', { capabilities: [{ capability: 'events', state: true }] }),
  ]);
}

/** What the source's QEMU answered when it was made ready, on the connection held since. */
interface Ready {
  client: QmpClient;
  status: QmpStatusInfo;
  /** The newest event the connection had received when the status was answered. */
  lastEvent: QmpEvent | undefined;
}

/**
 * The source's head start on a live migration. The target's worker says a migration has begun when
 * it takes the prepareIncoming job, while its QEMU has still to start (tens of ms); the source opens
 * the VM's QMP connection then (connect, greeting, capabilities: 3–5 ms on a busy host, once the
 * migrate job arrived), asks its status and sets the migration parameters in one round trip, and
 * holds the connection (QmpPool.hold). The migrate then sends `migrate` at once, unless QEMU said
 * anything since (an event on the held connection: a pause, a shutdown…), when it asks the status
 * again first, as it always did.
 *
 * The hold ends with the migrate, however it ends (a source that migrated closes the connection by
 * quitting), or after `holdMs` when none comes. QEMU serves one QMP client at a time: an operator's
 * tool waits for its greeting meanwhile, as it does during the migration itself (the target's
 * connection is held the same way, from prepareIncoming to finishIncoming).
 */
export class OutgoingHolds {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly ready = new Map<string, Ready>();

  async hold(dom: QemuDomain, holdMs = OUTGOING_HOLD_MS): Promise<void> {
    // Not running here (a late hint: it migrated already), nothing to get ready for.
    if (dom.livePid() === undefined) return;
    await dom.qmp(async (c) => {
      const status = c.execute<QmpStatusInfo>('query-status', undefined, { timeoutMs: CONNECT_MS });
      const parameters = setMigrationParameters(c, dom);
      parameters.catch(() => undefined);
      const ready: Ready = { client: c, status: await status, lastEvent: c.recentEvents.at(-1) };
      await parameters;
      this.ready.set(dom.vmId, ready);
      dom.holdQmp();
    }, CONNECT_MS);
    this.stopTimer(dom.vmId);
    const timer = setTimeout(() => this.end(dom), holdMs);
    timer.unref();
    this.timers.set(dom.vmId, timer);
  }

  /**
   * The status the VM was made ready with, when the migrate runs on that same connection and QEMU
   * has sent no event since (its run state did not change: every change comes with an event), and
   * the migration parameters are set. Once only: a retried migrate asks QEMU again.
   */
  take(vmId: string, c: QmpClient): QmpStatusInfo | undefined {
    const ready = this.ready.get(vmId);
    this.ready.delete(vmId);
    if (!ready || ready.client !== c || c.closed || c.recentEvents.at(-1) !== ready.lastEvent) return undefined;
    return ready.status;
  }

  /**
   * The migrate ended (succeeded, failed, or was refused), or no migrate came: the connection goes
   * unless some other operation still uses it. A timer left running could later end a hold that is
   * not this one's (the VM back here as a migration target, on a QEMU of the same socket path).
   */
  end(dom: QemuDomain): void {
    this.stopTimer(dom.vmId);
    this.ready.delete(dom.vmId);
    dom.releaseQmp();
  }

  closeAll(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.ready.clear();
  }

  private stopTimer(vmId: string): void {
    clearTimeout(this.timers.get(vmId));
    this.timers.delete(vmId);
  }
}
