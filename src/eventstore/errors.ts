export class WrongExpectedVersionError extends Error {
  override readonly name = 'WrongExpectedVersionError';
  constructor(
    readonly streamId: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`stream ${streamId}: expected ${expected}, found ${actual}`);
  }
}

export class StreamNotFoundError extends Error {
  override readonly name: string = 'StreamNotFoundError';
  constructor(
    readonly streamId: string,
    message = `stream ${streamId} not found`,
  ) {
    super(message);
  }
}

/**
 * The stream was deleted (KurrentDB soft delete or tombstone). A StreamNotFoundError so
 * that readers treat it as absent, as they must; its own class so that audit can tell a
 * deleted history from one that never existed.
 */
export class StreamDeletedError extends StreamNotFoundError {
  override readonly name: string = 'StreamDeletedError';
  constructor(streamId: string) {
    super(streamId, `stream ${streamId} was deleted`);
  }
}

export class UnavailableError extends Error {
  override readonly name: string = 'UnavailableError';
  /**
   * True when the connection was lost while the commit was in flight: the write may
   * have landed, so the caller must not be told that nothing was recorded.
   */
  readonly outcomeUnknown: boolean;
  constructor(message: string, options?: { cause?: unknown; outcomeUnknown?: boolean }) {
    super(message, options);
    this.outcomeUnknown = options?.outcomeUnknown ?? false;
  }
}

/**
 * The store refused the credentials or the ACL. An UnavailableError because, to the
 * service, the store cannot be used until an operator fixes the credentials (503, health
 * down, subscriptions keep retrying): nothing was recorded.
 */
export class AccessDeniedError extends UnavailableError {
  override readonly name: string = 'AccessDeniedError';
}
