/**
 * One holder at a time per key, in arrival order, within this process. Commands
 * on one stream queue here instead of racing to the store and retrying on the
 * conflict (many saga lanes reserve capacity on the same host stream at once).
 * Other processes still meet the store's expected-revision check.
 */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = previous.then(() => mine);
    this.tails.set(key, tail);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      // The last holder leaves no entry behind: the map holds only keys in use.
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}

/** A lane number for a key: the same key always lands in the same lane (FNV-1a, cheap and stable). */
export function laneOf(key: string, lanes: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % lanes;
}

/**
 * Runs `fn` over `items` in `lanes` concurrent lanes keyed by `keyOf`: items with
 * the same key run one after another in their order, different keys in parallel.
 * Resolves once every lane is done; rejects with the first failure after all settled.
 */
export async function inLanes<T>(
  items: readonly T[],
  lanes: number,
  keyOf: (item: T) => string,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  const byLane = new Map<number, T[]>();
  for (const item of items) {
    const lane = laneOf(keyOf(item), lanes);
    const list = byLane.get(lane);
    if (list) list.push(item);
    else byLane.set(lane, [item]);
  }
  const results = await Promise.allSettled(
    [...byLane.values()].map(async (list) => {
      for (const item of list) await fn(item);
    }),
  );
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}
