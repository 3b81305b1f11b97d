import type { MerkleFrontier } from './merkle.js';
import type { SealProblem } from './problems.js';
import type { SealBody } from './seal.js';

export interface StreamFacts {
  lastRevision: number;
}

interface Snapshot {
  /** Last revision of each head's stream at the seal's boundary (undefined: the stream never appeared). */
  revisions: Map<string, number | undefined>;
  /** Streams with events since the previous boundary: their first revision and position there. */
  touched: Map<string, { revision: number; position: string }>;
}

interface Boundary {
  seal: SealBody;
  countPassed: boolean;
  /** The root of the first `count` leaves matched and leaf count-1 is the sealed last event. */
  rootOk: boolean;
  /** Leaf index where the sealed last event was met. */
  idIndex: number | undefined;
  snapshot: Snapshot | undefined;
  done: boolean;
}

const key = (streamId: string, revision: number): string => `${streamId}\n${revision}`;

/**
 * Checks each seal where the log reaches it: by count (the Merkle root of the first
 * `count` leaves) and by the sealed last event's id (ids survive an import, positions
 * do not). When a seal fails, its stream heads say which stream and how: a stream
 * that is gone, one with more or fewer revisions than sealed, one whose sealed head
 * hash changed (an edit, even with every hash recomputed), a stream the seal never
 * saw; when every stream checks out, the same events are in another order.
 */
export class BoundaryCheck {
  private readonly list: Boundary[];
  private next = 0;
  private readonly byLastId = new Map<string, Boundary[]>();
  private readonly streams = new Map<string, StreamFacts>();
  private readonly touched = new Map<string, { revision: number; position: string }>();
  private readonly headKeys = new Set<string>();
  private readonly seenHash = new Map<string, string>();
  private readonly lastSealedRevision = new Map<string, number>();
  private readonly nonSealAt = new Map<number, number>();
  problem: SealProblem | null = null;
  verifiedCount = 0;
  lastVerified: SealBody | null = null;
  nonSealLeavesAtLastVerified = 0;

  constructor(seals: SealBody[]) {
    this.list = seals.map((seal) => ({
      seal,
      countPassed: false,
      rootOk: false,
      idIndex: undefined,
      snapshot: undefined,
      done: false,
    }));
    for (const b of this.list) {
      const same = this.byLastId.get(b.seal.lastEventId) ?? [];
      same.push(b);
      this.byLastId.set(b.seal.lastEventId, same);
      for (const h of b.seal.heads) this.headKeys.add(key(h.streamId, h.revision));
    }
  }

  onLeaf(
    e: { id: string; streamId: string; revision: bigint; position: bigint; metadata: { hash: string } },
    index: number,
    frontier: MerkleFrontier,
    nonSealLeaves: number,
  ): void {
    const revision = Number(e.revision);
    const facts = this.streams.get(e.streamId);
    if (!facts) this.streams.set(e.streamId, { lastRevision: revision });
    else if (revision > facts.lastRevision) facts.lastRevision = revision;
    if (!this.touched.has(e.streamId)) this.touched.set(e.streamId, { revision, position: e.position.toString() });
    const k = key(e.streamId, revision);
    if (this.headKeys.has(k)) this.seenHash.set(k, e.metadata.hash);

    const size = index + 1;
    const affected = new Set<Boundary>();
    let root: string | undefined;
    while (this.next < this.list.length && this.list[this.next]!.seal.count <= size) {
      const b = this.list[this.next++]!;
      if (b.seal.count !== size) continue;
      root ??= frontier.root().toString('hex');
      b.countPassed = true;
      b.rootOk = root === b.seal.root && e.id === b.seal.lastEventId;
      this.nonSealAt.set(size, nonSealLeaves);
      if (!b.rootOk) b.snapshot = this.snapshot(b);
      affected.add(b);
    }
    const ends = this.byLastId.get(e.id);
    for (const b of ends ?? []) {
      b.idIndex = index;
      b.snapshot = this.snapshot(b);
      affected.add(b);
    }
    for (const b of affected) this.evaluate(b);
    if (ends) this.touched.clear();
  }

  /** Seals the log never reached: cut off (`truncated`), or lost by the store but kept by the witness. */
  finish(leaves: number, lastPosition: bigint | undefined, lostFromStore: Set<number>): SealProblem | null {
    let truncated: SealProblem | null = null;
    for (const b of this.list) {
      if (b.done) continue;
      if (b.countPassed) this.classify(b);
      else
        truncated ??= {
          kind: 'truncated',
          ...(lastPosition !== undefined ? { position: lastPosition.toString() } : {}),
          seal: b.seal.sequence,
          message: `the log ends after ${leaves} events; seal ${b.seal.sequence} covers ${b.seal.count}`,
        };
    }
    if (truncated) return truncated;
    for (const b of this.list)
      if (lostFromStore.has(b.seal.sequence))
        return {
          kind: 'seal-missing',
          seal: b.seal.sequence,
          message: `seal ${b.seal.sequence} (${b.seal.count} events, position ${b.seal.position}) is in the witness but not in the store`,
        };
    return null;
  }

  private snapshot(b: Boundary): Snapshot {
    return {
      revisions: new Map(b.seal.heads.map((h) => [h.streamId, this.streams.get(h.streamId)?.lastRevision])),
      touched: new Map(this.touched),
    };
  }

  private evaluate(b: Boundary): void {
    if (b.done) return;
    // An earlier seal still waiting for its last event (never to come, if it was deleted) is judged first.
    for (const earlier of this.list) {
      if (earlier === b || earlier.seal.count >= b.seal.count) break;
      if (!earlier.done && earlier.countPassed) this.classify(earlier);
    }
    if (b.countPassed && b.idIndex !== undefined) {
      if (b.rootOk && b.idIndex === b.seal.count - 1) this.accept(b);
      else this.classify(b);
    } else if (b.idIndex !== undefined) {
      // The sealed last event came before `count` events: some are gone.
      this.classify(b);
    }
  }

  private accept(b: Boundary): void {
    b.done = true;
    this.verifiedCount++;
    for (const h of b.seal.heads) this.lastSealedRevision.set(h.streamId, h.revision);
    if (!this.lastVerified || b.seal.count > this.lastVerified.count) {
      this.lastVerified = b.seal;
      this.nonSealLeavesAtLastVerified = this.nonSealAt.get(b.seal.count) ?? 0;
    }
  }

  private classify(b: Boundary): void {
    b.done = true;
    this.problem ??= this.problemOf(b);
  }

  private problemOf(b: Boundary): SealProblem {
    const s = b.seal;
    const snap = b.snapshot ?? this.snapshot(b);
    const heads = new Set(s.heads.map((h) => h.streamId));
    const base = { seal: s.sequence };
    for (const h of s.heads) {
      const from = (this.lastSealedRevision.get(h.streamId) ?? -1) + 1;
      const at = snap.touched.get(h.streamId);
      const where = { ...base, streamId: h.streamId, revision: from, ...(at ? { position: at.position } : {}) };
      const now = snap.revisions.get(h.streamId);
      const range = `revisions ${from}–${h.revision}`;
      if (now === undefined)
        return {
          ...base,
          kind: 'stream-deleted',
          streamId: h.streamId,
          revision: 0,
          message: `stream ${h.streamId} (revisions 0–${h.revision} sealed by seal ${s.sequence}) is gone`,
        };
      if (now > h.revision)
        return {
          ...where,
          kind: 'inserted',
          message: `${h.streamId} has revision ${now} where seal ${s.sequence} sealed ${h.revision}: events inserted in ${range}`,
        };
      if (now < h.revision)
        return {
          ...where,
          kind: 'deleted',
          message: `${h.streamId} ends at revision ${now} where seal ${s.sequence} sealed ${h.revision}: events deleted in ${range}`,
        };
      if (this.seenHash.get(key(h.streamId, h.revision)) !== h.hash)
        return {
          ...where,
          kind: 'edited',
          message: `${h.streamId} ${range} differ from what seal ${s.sequence} sealed (hashes recomputed)`,
        };
    }
    for (const [streamId, t] of snap.touched)
      if (!heads.has(streamId))
        return {
          ...base,
          kind: 'inserted',
          streamId,
          revision: t.revision,
          position: t.position,
          message: `${streamId} revision ${t.revision} is not among the events seal ${s.sequence} sealed`,
        };
    const first = [...snap.touched.values()]
      .map((t) => BigInt(t.position))
      .sort((x, y) => (x < y ? -1 : x > y ? 1 : 0))[0];
    const range = first !== undefined ? { position: first.toString() } : {};
    if (b.idIndex === undefined)
      return {
        ...base,
        ...range,
        kind: 'deleted',
        message: `the last event seal ${s.sequence} sealed (${s.lastEventId}) is gone`,
      };
    if (b.idIndex !== s.count - 1) {
      const kind = b.idIndex < s.count - 1 ? 'deleted' : 'inserted';
      return {
        ...base,
        ...range,
        kind,
        message: `seal ${s.sequence} sealed ${s.count} events up to ${s.lastEventId}; the log has ${b.idIndex + 1} (${kind})`,
      };
    }
    return {
      ...base,
      ...range,
      kind: 'reordered',
      message: `the events seal ${s.sequence} sealed are all there, in another order`,
    };
  }
}
