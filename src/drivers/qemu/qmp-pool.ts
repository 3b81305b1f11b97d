import { QmpClient } from './qmp.client.js';

interface Entry {
  client: Promise<QmpClient>;
  users: number;
}

/**
 * One QMP connection per socket, shared by the operations running at the same time. QEMU
 * serves a single QMP client at a time, so a second connection (e.g. `status` during a long
 * migration) would sit unanswered; sharing also keeps command order per VM. The connection
 * closes when its last user is done, leaving the socket free for operators' tools.
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
    let entry = this.entries.get(socketPath);
    if (entry && (await entry.client.then((c) => c.closed).catch(() => true))) {
      if (this.entries.get(socketPath) === entry) this.entries.delete(socketPath);
      entry = undefined;
    }
    entry = this.entries.get(socketPath);
    if (!entry) {
      const client = QmpClient.connect(socketPath, {
        connectTimeoutMs: this.options.connectTimeoutMs,
        ...timeouts,
        commandTimeoutMs: this.options.commandTimeoutMs,
      });
      entry = { client, users: 0 };
      this.entries.set(socketPath, entry);
      client.catch(() => {
        if (this.entries.get(socketPath) === entry) this.entries.delete(socketPath);
      });
    }
    entry.users++;
    try {
      const client = await entry.client;
      return await fn(client);
    } finally {
      entry.users--;
      if (entry.users === 0 && this.entries.get(socketPath) === entry) {
        this.entries.delete(socketPath);
        entry.client.then((c) => c.close()).catch(() => undefined);
      }
    }
  }

  closeAll(): void {
    for (const entry of this.entries.values()) entry.client.then((c) => c.close()).catch(() => undefined);
    this.entries.clear();
  }
}
