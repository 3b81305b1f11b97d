import { Redis } from 'ioredis';

/**
 * Polls PING every 50 ms until the redis-server just started at `url` answers. `gaveUp` is
 * asked before each try and returns why waiting is pointless (the process exited), if it is;
 * `timedOut` says what to report after `timeoutMs`.
 */
export async function waitForRedis(
  url: string,
  timeoutMs: number,
  gaveUp: () => string | undefined,
  timedOut: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const why = gaveUp();
    if (why) throw new Error(why);
    const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    r.on('error', () => undefined);
    try {
      await r.connect();
      await r.ping();
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(timedOut());
      await new Promise((res) => setTimeout(res, 50));
    } finally {
      r.disconnect();
    }
  }
}
