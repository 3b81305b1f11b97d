import type { HostCommand } from './host.commands.js';
import type { HostState } from './host.state.js';

/** What a worker writes for its host every HEARTBEAT_MS (its own clock and who it is). */
export interface Heartbeat {
  at: string;
  by: string;
}

/**
 * A heartbeat as the watcher saw it: `heardAtMs` is the watcher's own clock when
 * the heartbeat last changed, so a worker's skewed clock never decides.
 */
export interface HeardHeartbeat {
  beat: Heartbeat;
  heardAtMs: number;
}

/**
 * Pure: should the host be marked unreachable (silent over deadMs) or reachable
 * again (heard within deadMs)? Null when nothing changes, or the host is gone.
 */
export function heartbeatVerdict(
  state: HostState,
  heard: HeardHeartbeat,
  nowMs: number,
  deadMs: number,
  observedBy: string,
): HostCommand | null {
  if (!state.exists || state.removed) return null;
  const silentMs = nowMs - heard.heardAtMs;
  if (silentMs > deadMs && !state.unreachable) {
    return {
      type: 'MarkUnreachable',
      lastHeartbeatAt: heard.beat.at,
      lastHeartbeatBy: heard.beat.by,
      silentMs,
      observedBy,
    };
  }
  // Heard again: an unreachable host, or one fenced (by an admin, or by its own worker on the way out), is back.
  if (silentMs <= deadMs && (state.unreachable || state.fenced)) {
    return { type: 'MarkReachable', heartbeatAt: heard.beat.at, heartbeatBy: heard.beat.by, observedBy };
  }
  return null;
}
