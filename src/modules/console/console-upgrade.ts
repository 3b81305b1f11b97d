import type { IncomingMessage, Server } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { HttpException, UnauthorizedException } from '@nestjs/common';
import type { Principal } from '../../http/auth/roles.js';
import type { TokenVerifier } from '../../http/auth/token-verifier.js';
import { toErrorBody } from '../../http/error.filter.js';
import type { ConsoleService, ConsoleSession } from './console.service.js';

const PATH = /^\/v1\/vms\/([^/?#]+)\/console\/?$/;
/** Keystrokes and pastes; a console is not a file transfer. */
const MAX_FRAME = 64 * 1024;
/** A viewer typing gets one notice per this many ms, not one per key. */
const NOTICE_EVERY_MS = 2_000;
/**
 * Sessions one principal may hold open at once in this API process: each costs a subscription
 * and a host-side attachment, and upgrades do not pass the HTTP rate limit.
 */
export const MAX_SESSIONS_PER_PRINCIPAL = 16;

/**
 * `GET /v1/vms/{id}/console` with `Upgrade: websocket`. Node hands upgrades to this listener,
 * not to Nest, so the same checks run here in the same order: the token (header, or a one-use
 * ticket for browsers), the VM (404 for another project's, 409 for one that does not run), the
 * host's worker attaching (422/409/503), then the session is recorded and the socket upgraded.
 * A refusal is a plain HTTP answer with the API's error body.
 */
export function attachConsoleUpgrade(
  server: Server,
  deps: { service: ConsoleService; verifier: TokenVerifier; log: Logger },
): void {
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME });
  const open = new Map<string, number>();
  const release = (principal: string) => {
    const n = (open.get(principal) ?? 1) - 1;
    if (n <= 0) open.delete(principal);
    else open.set(principal, n);
  };
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => undefined);
    const url = new URL(req.url ?? '/', 'http://localhost');
    const match = PATH.exec(url.pathname);
    if (!match) {
      refuse(socket, 404, { statusCode: 404, error: 'Not Found', message: `no WebSocket at ${url.pathname}` });
      return;
    }
    const vmId = decodeURIComponent(match[1]!);
    upgrade(vmId, url, req, socket, head).catch((err: unknown) => {
      const body = toErrorBody(err);
      if (body.statusCode >= 500) deps.log.error({ err, vm: vmId }, 'console upgrade failed');
      refuse(socket, body.statusCode, body);
    });
  });
  server.on('close', () => wss.close());

  async function principalOf(vmId: string, url: URL, req: IncomingMessage): Promise<Principal> {
    const ticket = url.searchParams.get('ticket');
    if (ticket) {
      const p = await deps.service.redeem(ticket, vmId);
      if (!p)
        throw new UnauthorizedException('the console ticket is not valid (unknown, used, expired or for another VM)');
      return p;
    }
    const match = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    if (!match) {
      throw new UnauthorizedException('missing bearer token: send Authorization: Bearer <token>, or ?ticket=');
    }
    const p = deps.verifier.verify(match[1]!);
    if (!p) throw new UnauthorizedException('the bearer token is not valid');
    return p;
  }

  async function upgrade(vmId: string, url: URL, req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const principal = await principalOf(vmId, url, req);
    const target = await deps.service.target(vmId, principal);
    const held = open.get(principal.id) ?? 0;
    if (held >= MAX_SESSIONS_PER_PRINCIPAL) {
      throw new HttpException(
        `${principal.id} already holds ${held} console sessions (at most ${MAX_SESSIONS_PER_PRINCIPAL}); close one`,
        429,
      );
    }
    open.set(principal.id, held + 1);
    let session: ConsoleSession;
    try {
      session = await deps.service.open(target, principal);
    } catch (err) {
      release(principal.id);
      throw err;
    }
    if (socket.destroyed) {
      release(principal.id);
      session.link.close('the client left before the upgrade');
      await session.end('the client left before the upgrade');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => bind(ws, session, () => release(principal.id)));
  }

  function bind(ws: WebSocket, session: ConsoleSession, onEnd: () => void): void {
    const { link } = session;
    let noticeAt = 0;
    const notice = (message: string) => ws.send(JSON.stringify({ type: 'notice', message }));
    notice(`attached (${session.mode}), session ${session.sessionId}`);
    if (link.scrollback.length) ws.send(link.scrollback, { binary: true });
    link.onData((chunk) => ws.send(chunk, { binary: true }));
    link.onClose((reason) => {
      if (ws.readyState === ws.OPEN) {
        ws.send(JSON.stringify({ type: 'closed', message: reason }));
        ws.close(1000, reason.slice(0, 120));
      }
      void session.end(reason);
    });
    ws.on('message', (data: RawData) => {
      if (session.mode === 'read-only') {
        if (Date.now() - noticeAt > NOTICE_EVERY_MS) {
          noticeAt = Date.now();
          notice('read-only: your role may watch this console but not type; input dropped');
        }
        return;
      }
      link.write(toBuffer(data));
    });
    ws.on('close', () => {
      onEnd();
      link.close('closed by the client');
      void session.end('closed by the client');
    });
    ws.on('error', () => undefined);
  }
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

function refuse(socket: Duplex, status: number, body: object): void {
  if (socket.destroyed) return;
  const text = JSON.stringify(body);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(text)}\r\n` +
      'Connection: close\r\n\r\n' +
      text,
  );
}
