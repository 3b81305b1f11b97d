/** Records the live runner keeps in memory at most (least recently used go first). */
export const LIVE_CACHE_LIMIT = 20_000;

/**
 * What this runner last committed per key. The runner is
 * the only writer of its read model's keys and applies the log in order, so its
 * own last write is what Redis holds (kept as the object, never mutated): a read answered here saves the Redis round
 * trip that was most of a page's cost. Cleared whenever the runner (re)starts —
 * a rebuild's swap or a Redis wipe changes the keys under it.
 */
export class RecordCache {
  private readonly entries = new Map<string, unknown>();
  /**
   * True while the cache holds every key the read model has: the runner started
   * from position 0 (an empty or wiped read model), so a miss means "absent" and
   * whatever Redis holds under the key (written before a wipe was noticed) is
   * not read. Turned off for good once a key had to be dropped.
   */
  complete = false;

  constructor(private readonly limit = LIVE_CACHE_LIMIT) {}

  get(key: string): unknown {
    const v = this.entries.get(key);
    if (v === undefined) return undefined;
    // Map keeps insertion order: re-inserting marks the key as recently used.
    this.entries.delete(key);
    this.entries.set(key, v);
    return v;
  }

  /** What `get` answers, without marking the key as recently used (a reader's look, not the runner's). */
  peek(key: string): unknown {
    return this.entries.get(key);
  }

  set(key: string, value: unknown): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size <= this.limit) return;
    const oldest = this.entries.keys().next();
    if (!oldest.done) this.entries.delete(oldest.value);
    this.complete = false;
  }

  /** A key the runner deleted: absent, which a complete cache answers without asking Redis. */
  delete(key: string): void {
    this.entries.delete(key);
  }

  /** Forgets everything; `complete` says whether the read model starts empty (a run from position 0). */
  reset(complete: boolean): void {
    this.entries.clear();
    this.complete = complete;
  }

  get size(): number {
    return this.entries.size;
  }
}
