import { UnavailableError } from '../errors.js';

/**
 * The adapter's own guard around a client call. Client 1.3.1 honours `deadline` on
 * unary gRPC calls, but its batch appends only send the deadline to the server (the
 * client never times the promise out) and its reads (through the Rust bridge) drop it.
 * The guard fires `graceMs` after the deadline, so the client's own deadline error wins
 * whenever the client does enforce it.
 */
export interface Deadline {
  /** Sent to the client as `deadline`. */
  ms: number;
  /** Extra wait before the adapter gives up by itself. */
  graceMs: number;
}

function expired(deadline: Deadline, operation: string, outcomeUnknown: boolean): UnavailableError {
  return new UnavailableError(
    `KurrentDB event store unavailable during ${operation}: no answer within the ${deadline.ms} ms deadline`,
    { outcomeUnknown },
  );
}

/** Rejects with UnavailableError when `call` has not settled in time. For appends the outcome is then unknown. */
export async function callWithDeadline<T>(
  call: Promise<T>,
  deadline: Deadline,
  operation: string,
  outcomeUnknown: boolean,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(expired(deadline, operation, outcomeUnknown)), deadline.ms + deadline.graceMs);
  });
  try {
    return await Promise.race([call, guard]);
  } finally {
    clearTimeout(timer);
    // A late rejection of the abandoned call must not become an unhandled rejection.
    call.catch(() => undefined);
  }
}

/**
 * Collects a read within one deadline for the whole call. On expiry the iterator is
 * asked to end (not awaited: an async generator finishes its pending step first).
 */
export async function collectWithDeadline<T>(
  source: AsyncIterable<T>,
  deadline: Deadline,
  operation: string,
  onItem: (item: T) => boolean | void,
): Promise<void> {
  const iterator = source[Symbol.asyncIterator]();
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(expired(deadline, operation, false)), deadline.ms + deadline.graceMs);
  });
  let finished = false;
  try {
    for (;;) {
      const step = iterator.next();
      step.catch(() => undefined);
      const result = await Promise.race([step, guard]);
      if (result.done) {
        finished = true;
        return;
      }
      // onItem returning true means "enough": stop reading.
      if (onItem(result.value) === true) return;
    }
  } finally {
    clearTimeout(timer);
    if (!finished) void iterator.return?.()?.catch(() => undefined);
  }
}
