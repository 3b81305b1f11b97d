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
    socket.end(
      `HTTP/1.1 ${status} ${errorBody(status, '').error}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
}
