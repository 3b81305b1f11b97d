import { setTimeout as sleep } from 'node:timers/promises';

export interface WaitOptions {
  /** What is awaited, for the failure message ("the foreign qemu to lock the disk"). */
  what: string;
  /** Deadline; generous, since a loaded CI machine is slow: it bounds a failure, never a success. */
  timeoutMs?: number;
  /** Pause between two looks. */
  intervalMs?: number;
}

/**
 * Waits for a condition, never for a time: polls `condition` until it returns something truthy and
 * returns that value; throws naming `what` (and the last value seen) once `timeoutMs` has passed.
 * An error thrown by `condition` fails the wait at once.
 */
export async function waitFor<T>(
  condition: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  { what, timeoutMs = 20_000, intervalMs = 25 }: WaitOptions,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${describe(value)}`);
    }
    await sleep(intervalMs);
  }
}

function describe(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/**
 * An ISO instant strictly after everything recorded before the call and strictly before anything
 * recorded after it returns (timestamps have millisecond resolution): waits for the clock to
 * tick past each edge, rather than sleeping a few milliseconds and hoping it did.
 */
export async function instantBetween(): Promise<string> {
  const before = Date.now();
  await waitFor(() => Date.now() > before, { what: 'the clock to tick', intervalMs: 1 });
  const at = Date.now();
  await waitFor(() => Date.now() > at, { what: 'the clock to tick', intervalMs: 1 });
  return new Date(at).toISOString();
}
