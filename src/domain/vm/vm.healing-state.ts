import type { VmEvent } from './vm.events.js';

/** Backoff and limit of automatic restarts (config.ts: HEALING_*). */
export interface HealingSettings {
  /** First delay; each further restart within the window doubles it. */
  baseMs: number;
  /** The delay never grows past this. */
  maxMs: number;
  /** At most this many restarts within windowMs; the next crash gives up. */
  maxRestarts: number;
  windowMs: number;
}

/** A restart the healing process manager has scheduled and not yet begun. */
export interface ScheduledRestart {
  operationId: string;
  /** The event the restart answers (a VmCrashed, or the failure of the previous restart). */
  causeEventId: string;
  causePosition: string;
  attempt: number;
  delayMs: number;
  /** Not started before this instant (cause time + delay): a timer rebuilt after a restart of the API honours it. */
  notBefore: string;
}

export interface HealingState {
  scheduled: ScheduledRestart | null;
  /** Cause times of the restarts scheduled so far (newest last, bounded): the limit counts those in the window. */
  history: string[];
  /** The last cause answered (scheduled or given up on): the same cause is never answered twice. */
  lastCauseEventId: string | null;
}

export const NO_HEALING: HealingState = { scheduled: null, history: [], lastCauseEventId: null };
const HISTORY_KEPT = 64;

export function evolveHealing(h: HealingState, event: VmEvent): HealingState {
  switch (event.type) {
    case 'VmRestartScheduled': {
      const d = event.data;
      const { policy: _p, causeAt, ...scheduled } = d;
      return {
        scheduled,
        history: [...h.history, causeAt].slice(-HISTORY_KEPT),
        lastCauseEventId: d.causeEventId,
      };
    }
    case 'VmHealingGaveUp':
      return { ...h, scheduled: null, lastCauseEventId: event.data.causeEventId };
    case 'VmHealingCancelled':
      return h.scheduled?.operationId === event.data.operationId ? { ...h, scheduled: null } : h;
    case 'VmStartRequested':
    case 'VmRecoveryRequested':
    case 'VmDeleteRequested':
      // The restart began (or was overtaken by a start, a recovery, a delete): nothing is scheduled any more.
      return h.scheduled ? { ...h, scheduled: null } : h;
    default:
      return h;
  }
}
