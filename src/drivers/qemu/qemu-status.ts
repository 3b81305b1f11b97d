import type { DomainState } from '../hypervisor-driver.port.js';

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
