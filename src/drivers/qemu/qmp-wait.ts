import { existsSync } from 'node:fs';
import { DriverError } from '../hypervisor-driver.port.js';
import { errorMessage } from '../kit/driver-errors.js';
import { tracePhase } from '../kit/phase-trace.js';
import { waitForPath } from '../kit/wait-for-path.js';
import { readCmdline, sendSignal } from './qemu-process.js';
import type { QmpClient } from './qmp.client.js';
import type { QmpPool } from './qmp-pool.js';

/**
 * After a spawn, QEMU's QMP socket is waited for by a watch on its directory (it appears once
 * QEMU has parsed its options); the look at this interval only notices a QEMU that died first.
 */
const QMP_SOCKET_RECHECK_MS = 50;
/** Connecting to a socket that exists: refused only in the instant between bind and listen. */
const QMP_CONNECT_MS = 300;
/**
 * Connected, QEMU greets once its main loop runs (machine set up): under load that can take
 * longer than the connect. A QEMU dying meanwhile closes the socket, which ends the wait at once.
 */
const QMP_GREETING_MS = 5_000;
/** Between two attempts on a socket that exists but did not answer (a slow or stuck QEMU). */
const QMP_RETRY_MS = 20;

export interface StartingQemu {
  vmId: string;
  pid: number;
  socket: string;
  pool: QmpPool;
  /** The end of QEMU's log, for the error when it exits during start. */
  logTail: () => string;
}

/**
 * Returns once the QEMU just spawned answers QMP. `ready` runs on the connection that found it
 * answering (a second connect costs a round of greeting and capabilities), and its answer is
 * this one's. A QEMU that exits first is a `failed` DriverError with its log; one that does not
 * answer within `timeoutMs` is killed (`timeout`).
 */
export async function waitForQmp<T>(
  q: StartingQemu,
  timeoutMs: number,
  ready?: (client: QmpClient) => Promise<T>,
): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  // Right after spawn the pid may still show node's argv (before exec), so only existence is
  // checked, not the cmdline.
  const alive = (): boolean => readCmdline(q.pid) !== undefined;
  for (;;) {
    // Woken by the socket's creation, not by a poll interval.
    await waitForPath(q.socket, {
      timeoutMs: Math.max(0, deadline - Date.now()),
      alive,
      recheckMs: QMP_SOCKET_RECHECK_MS,
    });
    let answered = false;
    try {
      if (!existsSync(q.socket)) throw new Error('QMP socket not created');
      return await q.pool.use(
        q.socket,
        async (c) => {
          await c.execute('query-status', undefined, { timeoutMs: 2_000 });
          answered = true;
          tracePhase(q.vmId, 'qemu answers QMP');
          return ready ? ready(c) : undefined;
        },
        { connectTimeoutMs: QMP_CONNECT_MS, greetingTimeoutMs: QMP_GREETING_MS },
      );
    } catch (err) {
      if (answered) throw err; // QEMU is up: what failed is `ready`'s own work
      if (!alive()) {
        throw new DriverError('failed', `QEMU for ${q.vmId} exited during start: ${q.logTail() || 'no output'}`);
      }
      if (Date.now() >= deadline) {
        sendSignal(q.pid, 'SIGKILL');
        throw new DriverError('timeout', `QEMU for ${q.vmId} did not answer QMP: ${errorMessage(err)}`);
      }
      await new Promise((r) => setTimeout(r, QMP_RETRY_MS));
    }
  }
}
