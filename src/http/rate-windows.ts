/** One fixed window of the rate limit: at most `limit` requests per `ttlMs` for one client. */
export interface RateWindow {
  /** `second` or `minute`: names the counter and the error message. */
  name: string;
  ttlMs: number;
  limit: number;
}

/** The window a request went past, and how long the client waits until it closes. */
export interface RateRefusal {
  window: RateWindow;
  /** Whole seconds, at least 1: the Retry-After. */
  retryAfterS: number;
}

/**
 * Counts one request of `tracker` in every window, in order, and stops at the first
 * window it went past (the later ones are not counted, as a refused request was
 * never served): undefined when every window still had room.
 */
export interface RateCounter {
  hit(tracker: string, windows: readonly RateWindow[]): Promise<RateRefusal | undefined>;
}

/** Milliseconds left → the Retry-After seconds (never 0: "retry now" would be wrong while the window is full). */
export const retryAfterSeconds = (leftMs: number): number => Math.max(1, Math.ceil(leftMs / 1000));
