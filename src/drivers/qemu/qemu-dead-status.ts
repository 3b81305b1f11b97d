import { existsSync } from 'node:fs';
import type { DomainStatus } from '../hypervisor-driver.port.js';
import { readJson, type RunInfo, type VmPaths } from '../kit/vm-files.js';

/** How the driver ended a QEMU (or that it was about to): written before and after a stop. */
export interface StoppedMarker {
  at: string;
  how: 'not-running' | 'acpi' | 'quit' | 'kill' | 'pending' | 'acknowledged';
}

const STOP_HOW: Record<StoppedMarker['how'], string> = {
  acpi: 'guest powered off via ACPI',
  quit: 'quit',
  kill: 'killed',
  'not-running': 'was not running',
  pending: 'stop interrupted',
  acknowledged: 'after it had ended on its own',
};

/**
 * Why a VM whose process is gone is not running. QEMU removes its pidfile on every orderly
 * exit (quit, guest poweroff, SIGTERM) but cannot on SIGKILL or a crash, so a leftover pidfile
 * means it died; SIGTERM from someone else is logged by QEMU as "terminating on signal".
 */
export function deadStatusOf(paths: VmPaths, run: RunInfo | undefined, logTail: () => string): DomainStatus {
  if (!run) return { state: 'stopped', detail: 'defined, never started on this host' };
  const marker = readJson<StoppedMarker>(paths.stoppedMarker);
  if (marker) return { state: 'stopped', detail: `stopped by the driver (${STOP_HOW[marker.how]})` };
  const log = logTail();
  if (existsSync(paths.pidFile)) {
    return {
      state: 'crashed',
      detail: `QEMU pid ${run.pid} died without cleaning up (SIGKILL or crash)${log ? `: ${log}` : ''}`,
    };
  }
  const signal = /terminating on signal .*/.exec(log);
  if (signal) return { state: 'crashed', detail: `QEMU pid ${run.pid} was stopped from outside: ${signal[0]}` };
  return { state: 'stopped', detail: 'QEMU exited on its own (guest powered off)' };
}
