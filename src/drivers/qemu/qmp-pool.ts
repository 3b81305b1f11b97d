import { QmpClient } from './qmp.client.js';

interface Entry {
  client: Promise<QmpClient>;
  users: number;
  /** Kept open while no one uses it (see `hold`). */
  held: boolean;
}

/**
 * One QMP connection per socket, shared by the operations running at the same time. QEMU
 * serves a single QMP client at a time, so a second connection (e.g. `status` during a long
 * migration) would sit unanswered; sharing also keeps command order per VM. The connection
 * closes when its last user is done, leaving the socket free for operators' tools, unless it is
 * held (`hold`): then it stays open for the next user until `release` or until QEMU closes it.
 */
export class QmpPool {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly options: { connectTimeoutMs: number; commandTimeoutMs: number }) {}

  /** `connect`: the connect timeout in ms, or that and a longer wait for the greeting (QmpConnectOptions). */
  async use<T>(
    socketPath: string,
    fn: (client: QmpClient) => Promise<T>,
    connect?: number | { connectTimeoutMs: number; greetingTimeoutMs: number },
  ): Promise<T> {
    const timeouts = typeof connect === 'number' ? { connectTimeoutMs: connect } : connect;
    const stale = this.entries.get(socketPath);
    if (stale && (await stale.client.then((c) => c.closed).catch(() => true))) this.drop(socketPath, stale);
    let entry = this.entries.get(socketPath);
    if (!entry) {
      const client = QmpClient.connect(socketPath, {
        connectTimeoutMs: this.options.connectTimeoutMs,
        ...timeouts,
        commandTimeoutMs: this.options.commandTimeoutMs,
      });
      const created: Entry = { client, users: 0, held: false };
      entry = created;
      this.entries.set(socketPath, created);
      client.then(
        // A connection QEMU closed (it exited) leaves the pool at once, held or not.
        (c) => c.onClose(() => this.drop(socketPath, created)),
        () => this.drop(socketPath, created),
      );
    }
    entry.users++;
    try {
      const client = await entry.client;
      // An idle held connection does not keep the process alive; one in use does, as any other.
      client.keepProcessAlive(true);
      return await fn(client);
    } finally {
      entry.users--;
      if (entry.users === 0 && this.entries.get(socketPath) === entry) {
        if (entry.held) entry.client.then((c) => c.keepProcessAlive(false)).catch(() => undefined);
        else this.close(socketPath, entry);
      }
    }
  }

  /**
   * Keeps the connection to `socketPath` open after its users are done, for the next operation
   * on the same QEMU (a migration target from prepareIncoming to finishIncoming: a connect costs
   * a greeting and a capabilities round trip, and events seen meanwhile stay on the client).
   * Only a connection in use can be held; answers whether it was.
   */
  hold(socketPath: string): boolean {
    const entry = this.entries.get(socketPath);
    if (!entry) return false;
    entry.held = true;
    return true;
  }

  /** Ends a `hold`: the connection closes now if no one uses it, else when its last user is done. */
  release(socketPath: string): void {
    const entry = this.entries.get(socketPath);
    if (!entry?.held) return;
    entry.held = false;
    if (entry.users === 0) this.close(socketPath, entry);
  }

  closeAll(): void {
    for (const entry of this.entries.values()) entry.client.then((c) => c.close()).catch(() => undefined);
    this.entries.clear();
  }

  private close(socketPath: string, entry: Entry): void {
    this.drop(socketPath, entry);
    entry.client.then((c) => c.close()).catch(() => undefined);
  }

  private drop(socketPath: string, entry: Entry): void {
    if (this.entries.get(socketPath) === entry) this.entries.delete(socketPath);
  }
}
