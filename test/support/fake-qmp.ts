import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';

export const QMP_GREETING =
  '{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": ""}, "capabilities": []}}';

export interface QmpRequest {
  execute: string;
  arguments?: Record<string, unknown>;
  id?: string;
}

/** One QMP reply line: `body` is the JSON members before the id (`"return": {…}` or `"error": {…}`). */
export const qmpReply = (req: QmpRequest, body: string): string => `{${body}, "id": ${JSON.stringify(req.id)}}\r\n`;

export interface FakeQmpOptions {
  /** What a new connection is greeted with (default: the greeting whole, at once). */
  greeting?: (socket: Socket) => void;
  /** Hand `qmp_capabilities` to `onRequest` too, instead of answering it at once (tests of the negotiation). */
  passCapabilities?: boolean;
}

/**
 * A scripted QMP server on a unix socket for the driver's specs: it greets, reads requests line by
 * line, answers `qmp_capabilities` (unless told to pass it on) and lets `onRequest` decide what raw
 * bytes go back for the rest; `event` sends an event to every connected client.
 */
export class FakeQmp {
  readonly path: string;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  constructor(
    dir: string,
    private readonly onRequest: (req: QmpRequest, socket: Socket) => void,
    private readonly options: FakeQmpOptions = {},
  ) {
    this.path = join(dir, `fake-${Math.random().toString(16).slice(2)}.sock`);
    this.server = createServer((socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => undefined);
      socket.setEncoding('utf8');
      (this.options.greeting ?? ((s: Socket) => s.write(`${QMP_GREETING}\r\n`)))(socket);
      let buffer = '';
      socket.on('data', (chunk: string) => {
        buffer += chunk;
        let nl: number;
        while ((nl = buffer.indexOf('\n')) >= 0) {
          const req = JSON.parse(buffer.slice(0, nl)) as QmpRequest;
          buffer = buffer.slice(nl + 1);
          if (req.execute === 'qmp_capabilities' && !this.options.passCapabilities)
            socket.write(qmpReply(req, '"return": {}'));
          else this.onRequest(req, socket);
        }
      });
    });
  }

  listen(): Promise<this> {
    return new Promise((resolve) => this.server.listen(this.path, () => resolve(this)));
  }

  /** An asynchronous QMP event, as QEMU sends one, to every connected client. */
  event(name: string, data?: object): void {
    const line = `${JSON.stringify({ event: name, ...(data ? { data } : {}), timestamp: { seconds: 1, microseconds: 0 } })}\r\n`;
    for (const s of this.sockets) s.write(line);
  }

  close(): void {
    for (const s of this.sockets) s.destroy();
    this.server.close();
  }
}
