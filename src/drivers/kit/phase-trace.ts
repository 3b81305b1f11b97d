import { channel } from 'node:diagnostics_channel';

/**
 * Where one VM's command spends its time, phase by phase (bench/qemu-phases.ts prints it). Every
 * layer publishes on this one named diagnostics channel: drivers through this file, the control
 * plane and the host worker through application/phase-trace.ts (the layering keeps them apart,
 * the channel name joins them). Nothing is published while nobody subscribes, so it costs a
 * boolean check in production.
 */
export const PHASE_CHANNEL = 'virtledger:phase';

export interface PhaseMark {
  vmId: string;
  phase: string;
  /** performance.now() of this process. */
  at: number;
}

const phases = channel(PHASE_CHANNEL);

export function tracePhase(vmId: string, phase: string): void {
  if (phases.hasSubscribers) phases.publish({ vmId, phase, at: performance.now() } satisfies PhaseMark);
}
