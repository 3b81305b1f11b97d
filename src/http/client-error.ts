import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { errorBody } from './error-body.js';

const REASONS: Record<string, [number, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'request headers too large'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'request not received in time'],
  HPE_HEADERS_TIMEOUT: [408, 'request headers not received in time'],
};

/**
 * Requests Node's HTTP parser refuses before Express sees them (headers too large, a
 * malformed request line) get the v1 error body too, instead of Node's bare status line.
 */
export function answerClientErrors(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const [status, message] = REASONS[err.code ?? ''] ?? [400, 'malformed HTTP request'];
    const body = JSON.stringify(errorBody(status, message));
    // The answer to a HEAD has no body: a client reads none and takes the body's bytes for trailing
    // garbage (Node's client: "Data after `Connection: close`"; chaos fuzz, seed 1340874885).
    socket.end(
      `HTTP/1.1 ${status} ${errorBody(status, '').error}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${isHead(err) ? '' : body}`,
    );
  });
}

/**
 * Whether the refused request is a HEAD. The parser refuses before it names the method, so this
 * reads the request line from the bytes it was parsing (`rawPacket`: the read that failed, which
 * starts with the request line unless the request came in several reads; then it counts as a GET).
 */
function isHead(err: NodeJS.ErrnoException & { rawPacket?: unknown }): boolean {
  const raw = err.rawPacket;
  return Buffer.isBuffer(raw) && raw.subarray(0, 5).toString('latin1') === 'HEAD ';
}
