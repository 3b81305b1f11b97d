import type { QemuDomain } from './qemu-domain.js';

/** How long a source stays ready for a migrate that does not come (its target failed to prepare). */
export const OUTGOING_HOLD_MS = 30_000;
/** A QEMU that does not take a connection this fast is busy: the migrate connects as it always did. */
const CONNECT_MS = 2_000;

/**
 * The source's head start on a live migration. The target's worker says a migration has begun when
 * it takes the prepareIncoming job, while its QEMU has still to start (tens of ms); the source opens
 * the VM's QMP connection then (connect, greeting, capabilities: 3–5 ms on a busy host, once the
 * migrate job arrived) and holds it (QmpPool.hold), so the migrate's first command goes out at once.
 * Nothing else is done ahead: the migrate still checks the VM's status and sets its parameters.
 *
 * The hold ends with the migrate, however it ends (a source that migrated closes the connection by
 * quitting), or after `holdMs` when none comes. QEMU serves one QMP client at a time: an operator's
 * tool waits for its greeting meanwhile, as it does during the migration itself (the target's
 * connection is held the same way, from prepareIncoming to finishIncoming).
 */
export class OutgoingHolds {
  private readonly timers = new Map<string, NodeJS.Timeout>();

  async hold(dom: QemuDomain, holdMs = OUTGOING_HOLD_MS): Promise<void> {
    // Not running here (a late hint: it migrated already), nothing to get ready for.
    if (dom.livePid() === undefined) return;
    await dom.qmp(async () => dom.holdQmp(), CONNECT_MS);
    this.stopTimer(dom.vmId);
    const timer = setTimeout(() => {
      this.timers.delete(dom.vmId);
      dom.releaseQmp();
    }, holdMs);
    timer.unref();
    this.timers.set(dom.vmId, timer);
  }

  /**
   * The migrate ended (succeeded, failed, or was refused): the connection goes unless some other
   * operation still uses it. A timer left running could later end a hold that is not this one's
   * (the VM back here as a migration target, on a QEMU of the same socket path).
   */
  end(dom: QemuDomain): void {
    this.stopTimer(dom.vmId);
    dom.releaseQmp();
  }

  closeAll(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  private stopTimer(vmId: string): void {
    clearTimeout(this.timers.get(vmId));
    this.timers.delete(vmId);
  }
}
