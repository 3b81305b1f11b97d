import { channel } from 'node:diagnostics_channel';

/**
 * The control plane's and the host worker's half of the phase trace (see
 * drivers/kit/phase-trace.ts for the drivers' half and what it is for): the same channel name,
 * published only while someone subscribes.
 */
const phases = channel('virtledger:phase');

export function tracePhase(vmId: string, phase: string): void {
  if (phases.hasSubscribers) phases.publish({ vmId, phase, at: performance.now() });
}
