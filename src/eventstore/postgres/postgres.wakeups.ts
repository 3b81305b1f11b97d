import pg from 'pg';
import type { WakeSignal } from '../wake-signal.js';

const RECONNECT_MS = 2_000;

/**
 * LISTEN on the store's channel and turn notifications into wake-ups. Purely a latency
 * optimisation: subscriptions poll anyway, so losing this connection loses nothing but
 * speed, and it quietly reconnects.
 */
export class PgNotificationListener {
  private client: pg.Client | undefined;
  private connecting: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly channel: string,
    private readonly wake: WakeSignal,
  ) {}

  ensureStarted(): void {
    if (this.closed || this.client || this.connecting || this.retryTimer) return;
    this.connecting = this.connect().finally(() => {
      this.connecting = undefined;
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await this.connecting;
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const client = new pg.Client(this.config);
    client.on('error', () => this.drop(client));
    client.on('end', () => this.drop(client));
    client.on('notification', () => this.wake.notify());
    try {
      await client.connect();
      // The channel name is built from a validated schema name ([a-z0-9_]).
      await client.query(`LISTEN ${this.channel}`);
    } catch {
      await client.end().catch(() => undefined);
      this.scheduleRetry();
      return;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    // Appends made while we were not listening would otherwise wait for the next poll.
    this.wake.notify();
  }

  private drop(client: pg.Client): void {
    if (this.client !== client) return;
    this.client = undefined;
    client.end().catch(() => undefined);
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.closed || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.ensureStarted();
    }, RECONNECT_MS);
    this.retryTimer.unref();
  }
}
