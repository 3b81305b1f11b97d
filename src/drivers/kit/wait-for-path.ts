import { existsSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';

export interface WaitForPathOptions {
  /** Give up after this long (answers false). */
  timeoutMs: number;
  /** Checked at each look: false ends the wait at once (the process that was to create it died). */
  alive?: () => boolean;
  /**
   * How often to look anyway. The directory watch (inotify) is what wakes the wait as soon as
   * the name appears; this only bounds a missed or unsupported watch and notices `alive`.
   */
  recheckMs?: number;
  signal?: AbortSignal;
}

/**
 * Resolves true once `path` exists, false when `alive` turns false, the time is up or the
 * signal aborts. A process creating a socket or a file is waited for by a watch on its
 * directory rather than by polling at an interval (which costs half the interval on average).
 */
export function waitForPath(path: string, options: WaitForPathOptions): Promise<boolean> {
  if (existsSync(path)) return Promise.resolve(true);
  const { timeoutMs, alive, recheckMs = 50, signal } = options;
  const name = basename(path);
  return new Promise((resolve) => {
    let watcher: FSWatcher | undefined;
    let done = false;
    const deadline = Date.now() + timeoutMs;
    const finish = (found: boolean): void => {
      if (done) return;
      done = true;
      clearInterval(timer);
      watcher?.close();
      signal?.removeEventListener('abort', aborted);
      resolve(found);
    };
    const look = (): void => {
      if (existsSync(path)) finish(true);
      else if (signal?.aborted || Date.now() >= deadline || (alive && !alive())) finish(false);
    };
    const aborted = (): void => finish(false);
    try {
      watcher = watch(dirname(path), { persistent: false }, (_event, file) => {
        // Some platforms give no name: look anyway.
        if (file === null || String(file) === name) look();
      });
      watcher.on('error', () => {
        // The directory went away or cannot be watched: the periodic look still ends the wait.
        watcher?.close();
        watcher = undefined;
      });
    } catch {
      watcher = undefined; // no watch here (no inotify, no directory): the periodic look does it
    }
    const timer = setInterval(look, Math.max(1, Math.min(recheckMs, timeoutMs)));
    signal?.addEventListener('abort', aborted, { once: true });
    // Created between the first check and the watch: seen here.
    look();
  });
}
