import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** The first port the kernel hands out for `listen(0)` and outgoing connections (Linux default 32768). */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 11000 ? low : 32768;
  } catch {
    return 32768;
  }
}

function tryListen(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(undefined));
    srv.listen(port, '127.0.0.1', () => {
      const addr = srv.address();
      const got = typeof addr === 'object' && addr ? addr.port : undefined;
      srv.close(() => resolve(got));
    });
  });
}

/**
 * A free TCP port on 127.0.0.1 for a process that binds it a moment later (a private Redis, a
 * child API). Drawn below the kernel's ephemeral range, so the `listen(0)` of any other process (or
 * an outgoing connection) cannot take it in between, as it could when the kernel picked it; two
 * callers drawing the same port at once is the only race left. Falls back to the kernel's pick.
 */
export async function freePort(): Promise<number> {
  const high = ephemeralLow() - 1;
  const low = 10000;
  for (let i = 0; i < 50; i++) {
    const port = await tryListen(low + Math.floor(Math.random() * (high - low + 1)));
    if (port !== undefined) return port;
  }
  const port = await tryListen(0);
  if (port === undefined) throw new Error('no free TCP port on 127.0.0.1');
  return port;
}
