import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { heartbeatVerdict, type HeardHeartbeat, type Heartbeat } from '../domain/host/heartbeat-verdict.js';
import { hostDecider } from '../domain/host/host.decider.js';
import { hostStream } from '../domain/streams.js';
import { handleCommand } from './handle-command.js';
import type { AggregateLoader } from './load-aggregate.js';

export interface HostWatchSettings {
  /** A host silent longer than this becomes unreachable (HOST_DEAD_MS). */
  deadMs: number;
  /** How often the heartbeats are read. */
  checkMs: number;
  /** Who is watching (recorded as the evidence's observer). */
  observedBy: string;
  /** Every host's last heartbeat (hostId → JSON {at, by}). */
  readHeartbeats: () => Promise<Record<string, string>>;
}

/**
 * The control plane's heartbeat watch: hosts whose worker has been heard at
 * least once are marked unreachable after deadMs of silence, and reachable when
 * heard again. Silence is timed on this process's clock, from when the
 * heartbeat last changed, so a worker's clock never decides. Several API
 * processes may watch: the host decider records each change once.
 */
export class HostWatch {
  private readonly heard = new Map<string, HeardHeartbeat & { raw: string }>();
  /** What the host's stream said when last loaded (unreachable or not), and when: no store read per tick. */
  private readonly known = new Map<string, { unreachable: boolean; atMs: number }>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(
    private readonly aggregates: AggregateLoader,
    private readonly settings: HostWatchSettings,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.settings.checkMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      await this.check();
    } catch (err) {
      this.log.warn({ err }, 'heartbeat watch failed');
    } finally {
      this.running = false;
    }
  }

  /** One pass over every heartbeat; exposed for tests. */
  async check(): Promise<void> {
    const beats = await this.settings.readHeartbeats();
    const now = this.now();
    for (const [hostId, raw] of Object.entries(beats)) {
      const prev = this.heard.get(hostId);
      let heard = prev;
      // Heard again after a long silence (a worker back, maybe after a fence): judged now, not when the cache expires.
      const returned = !!prev && prev.raw !== raw && now - prev.heardAtMs > this.settings.deadMs;
      if (!prev || prev.raw !== raw) {
        const beat = parseBeat(raw);
        if (!beat) continue;
        heard = { raw, beat, heardAtMs: now };
        this.heard.set(hostId, heard);
      }
      const silent = now - heard!.heardAtMs > this.settings.deadMs;
      const known = this.known.get(hostId);
      // Another API process may have changed it: look again now and then even when nothing seems to.
      const fresh = known && now - known.atMs < KNOWN_FOR_MS;
      if (fresh && known.unreachable === silent && !returned) continue;
      await this.judge(hostId, heard!, now);
    }
  }

  private async judge(hostId: string, heard: HeardHeartbeat, now: number): Promise<void> {
    const stream = hostStream(hostId);
    const { state } = await this.aggregates.load(hostDecider, stream);
    const cmd = heartbeatVerdict(state, heard, now, this.settings.deadMs, this.settings.observedBy);
    this.known.set(hostId, {
      // A fenced host counts as "unreachable" here: hearing it again must be judged at once.
      unreachable: cmd ? cmd.type === 'MarkUnreachable' : state.unreachable !== null || !!state.fenced,
      atMs: now,
    });
    if (!cmd) return;
    const id = randomUUID();
    await handleCommand(this.aggregates, hostDecider, stream, cmd, {
      principal: `system:heartbeat-watch@${this.settings.observedBy}`,
      correlationId: id,
      causationId: id,
      reason:
        cmd.type === 'MarkUnreachable'
          ? `no heartbeat for ${cmd.silentMs} ms (HOST_DEAD_MS ${this.settings.deadMs})`
          : 'heartbeats resumed',
    });
    this.log.warn({ host: hostId, verdict: cmd.type }, 'host reachability changed');
  }
}

const KNOWN_FOR_MS = 30000;

function parseBeat(raw: string): Heartbeat | undefined {
  try {
    const v = JSON.parse(raw) as Partial<Heartbeat>;
    return typeof v.at === 'string' && typeof v.by === 'string' ? { at: v.at, by: v.by } : undefined;
  } catch {
    return undefined;
  }
}
