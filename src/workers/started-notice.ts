/** How long a step may run before its `started` result goes out on its own (HostWorkerSettings.startedAfterMs). */
export const STARTED_AFTER_MS = 250;

/**
 * When a step's `started` result is sent. Most steps end within milliseconds; for those a `started`
 * job of its own on the results queue (a Redis add, a consumer pickup and a command) only says what
 * the outcome says a moment later. So `started` goes out on its own once the step has run for
 * `delayMs` (an operator watching a slow step sees it running), or before the first progress
 * report; a step that ends sooner carries it in its outcome (`started: true`), which the result
 * consumer records first, so the log holds the same events in the same order as before.
 * A delay of 0 sends it before the driver is called, as it always was.
 */
export class StartedNotice {
  private timer: NodeJS.Timeout | undefined;
  private posting: Promise<boolean> | undefined;
  private quietUntil: number | undefined;

  constructor(
    private readonly post: () => Promise<void>,
    private readonly delayMs: number,
    private readonly onError: (err: unknown) => void,
  ) {}

  /**
   * True while the step is within its delay and `started` has not gone out: a progress report
   * then says nothing its outcome will not (see HostWorker's onProgress), so it is not sent.
   */
  quiet(): boolean {
    return this.posting === undefined && this.quietUntil !== undefined && Date.now() < this.quietUntil;
  }

  /** The step is about to call the driver. With no delay, resolves once `started` is on the queue. */
  async begin(): Promise<void> {
    if (this.delayMs > 0) this.quietUntil = Date.now() + this.delayMs;
    if (this.delayMs <= 0) {
      // As before: a Redis that cannot take it fails the attempt before the driver is called.
      await this.post();
      this.posting = Promise.resolve(true);
      return;
    }
    this.timer = setTimeout(() => void this.now(), this.delayMs);
  }

  /** Sends it now unless it went already; resolves true once it is on the queue, false if that failed. */
  now(): Promise<boolean> {
    clearTimeout(this.timer);
    this.posting ??= this.post().then(
      () => true,
      (err: unknown) => {
        this.onError(err);
        return false;
      },
    );
    return this.posting;
  }

  /** The job ended however it ended: no `started` goes out after it. */
  dispose(): void {
    clearTimeout(this.timer);
  }

  /**
   * The step ended: true when its outcome must carry `started` (it never went out on its own).
   * A post in flight is waited for, so `started` is never behind the outcome on the queue.
   */
  async settle(): Promise<boolean> {
    clearTimeout(this.timer);
    if (!this.posting) return true;
    return !(await this.posting);
  }
}
