import type { DomainState } from '../hypervisor-driver.port.js';
import type { QmpEvent } from './qmp.types.js';

/** QEMU's RunState (`query-status`.status) in the port's vocabulary. */
export function domainStateOf(qemuStatus: string): DomainState {
  switch (qemuStatus) {
    case 'running':
      return 'running';
    case 'paused':
    case 'suspended':
    case 'prelaunch':
    case 'debug':
    case 'io-error':
    case 'save-vm':
    case 'restore-vm':
      return 'paused';
    case 'inmigrate':
    case 'finish-migrate':
      return 'migrating';
    // postmigrate: the source after a completed migration; its guest now runs elsewhere.
    case 'postmigrate':
    case 'shutdown':
      return 'stopped';
    case 'guest-panicked':
    case 'internal-error':
    case 'watchdog':
      return 'crashed';
    default:
      return 'unknown';
  }
}

/** QEMU's events that change whether the guest runs: RESUME starts it, each of the others stops it. */
const RUN_STATE_EVENTS = new Set(['RESUME', 'STOP', 'SUSPEND', 'SUSPEND_DISK', 'SHUTDOWN', 'GUEST_PANICKED']);

/**
 * True when, of the run-state events a connection received (oldest first), the last is RESUME:
 * QEMU said the guest runs and has not said otherwise since. None at all says nothing: false.
 */
export function resumedLast(events: readonly QmpEvent[]): boolean {
  for (let i = events.length - 1; i >= 0; i--) {
    const name = events[i]!.event;
    if (RUN_STATE_EVENTS.has(name)) return name === 'RESUME';
  }
  return false;
}
