import type { KeyObject } from 'node:crypto';
import type { EventData, EventMetadata } from '../event-store.port.js';
import { eventHash, GENESIS_HASH, type ChainBreak } from '../hash-chain.js';
import { BoundaryCheck, type StreamFacts } from './boundary-check.js';
import { MerkleFrontier, storedEventLeaf } from './merkle.js';
import type { LogVerifyReport, SealProblem } from './problems.js';
import { LOG_SEALED, SEALS_STREAM, type SealBody } from './seal.js';
import { planSeals, type FoundSeal, type SealPlan } from './seal-chain.js';

/** An event as read from the store or from an export line. */
export interface VerifiableEvent {
  id: string;
  streamId: string;
  revision: bigint;
  position: bigint;
  type: string;
  data: EventData;
  metadata: EventMetadata;
}

export interface LogVerifierOptions {
  /** Trusted public keys; omitted: signatures are not checked (roots and chain still are). */
  keys?: readonly KeyObject[];
  /** Seals read from the witness, in file order. */
  witness?: SealBody[];
}

/**
 * One pass over the whole log in log order, keeping per stream only its last
 * revision and hash, plus the Merkle frontier. Three layers, each catching what the
 * one before cannot:
 * - the per-stream chain (v1 `firstBreak`, unchanged): edits by someone who did not
 *   recompute the hashes;
 * - revision order per stream: names a gap `deleted`, a gap filled later `reordered`
 *   or (when both claim the same predecessor) `inserted`;
 * - each seal: the Merkle root of the first `count` events, and the sealed stream
 *   heads, which name the stream when the attacker recomputed every hash.
 */
export class LogVerifier {
  private readonly plan: SealPlan;
  private readonly frontier = new MerkleFrontier();
  private readonly v1Prev = new Map<string, string>();
  private v1Count = 0;
  private v1Break: ChainBreak | null = null;
  private readonly chain = new Map<string, { revision: bigint; hash: string }>();
  private gap: { problem: SealProblem; streamId: string; jumped: bigint; jumpedPrevHash: string } | undefined;
  private chainProblem: SealProblem | null = null;
  private readonly boundaries: BoundaryCheck;
  private nonSealLeaves = 0;
  private lastPosition: bigint | undefined;

  constructor(
    stored: FoundSeal[],
    private readonly options: LogVerifierOptions = {},
  ) {
    this.plan = planSeals(stored, options.keys, options.witness);
    this.boundaries = new BoundaryCheck(this.plan.boundaries);
  }

  feed(e: VerifiableEvent): void {
    // The one sha256 over canonical JSON per event; both chain checks below use it.
    const computed = eventHash({ ...e, prevHash: e.metadata.prevHash });
    this.checkV1(e, computed);
    this.checkRevisions(e, computed);
    const index = this.frontier.size;
    this.frontier.append(storedEventLeaf(e.metadata.hash));
    if (!(e.streamId === SEALS_STREAM && e.type === LOG_SEALED)) this.nonSealLeaves++;
    this.lastPosition = e.position;
    this.boundaries.onLeaf(e, index, this.frontier, this.nonSealLeaves);
  }

  finish(): LogVerifyReport {
    const leaves = this.frontier.size;
    const finishProblems = this.boundaries.finish(leaves, this.lastPosition, this.plan.lostFromStore);
    const problem = this.plan.problem ?? this.firstOf(this.chainProblem, this.boundaries.problem) ?? finishProblems;
    const last = this.boundaries.lastVerified;
    return {
      verified: !this.v1Break && !problem,
      count: this.v1Count,
      streams: this.v1Prev.size,
      firstBreak: this.v1Break
        ? {
            streamId: this.v1Break.streamId,
            revision: Number(this.v1Break.revision),
            expected: this.v1Break.expected,
            found: this.v1Break.found,
          }
        : null,
      problem,
      seals: {
        total: this.plan.total,
        verified: this.boundaries.verifiedCount,
        last: last
          ? {
              sequence: last.sequence,
              count: last.count,
              position: last.position,
              root: last.root,
              sealedAt: last.sealedAt,
            }
          : null,
        signatures: this.options.keys ? 'checked' : 'unchecked',
        witness: this.plan.witnessLines,
      },
      unsealed: this.nonSealLeaves - this.boundaries.nonSealLeavesAtLastVerified,
    };
  }

  /** The earlier in log order of two problems found during the pass. */
  private firstOf(a: SealProblem | null, b: SealProblem | null): SealProblem | null {
    if (!a || !b) return a ?? b;
    if (a.position === undefined || b.position === undefined) return a;
    return BigInt(b.position) < BigInt(a.position) ? b : a;
  }

  /** Exactly the v1 check (GET /v1/audit/verify before seals), so its fields keep their meaning. */
  private checkV1(e: VerifiableEvent, computed: string): void {
    if (!this.v1Break) {
      // checkLink of hash-chain.ts, with the event's hash computed once.
      const prev = this.v1Prev.get(e.streamId) ?? GENESIS_HASH;
      if (e.metadata.prevHash !== prev)
        this.v1Break = { streamId: e.streamId, revision: e.revision, expected: prev, found: e.metadata.prevHash };
      else if (computed !== e.metadata.hash)
        this.v1Break = { streamId: e.streamId, revision: e.revision, expected: computed, found: e.metadata.hash };
      else this.v1Count++;
    }
    this.v1Prev.set(e.streamId, e.metadata.hash);
  }

  private checkRevisions(e: VerifiableEvent, computed: string): void {
    const at = { streamId: e.streamId, position: e.position.toString() };
    const gap = this.gap;
    if (gap && gap.streamId === e.streamId && e.revision < gap.jumped) {
      // The missing revision came later: moved (reordered), or a second event claiming the same predecessor (inserted).
      gap.problem.kind = e.metadata.prevHash === gap.jumpedPrevHash ? 'inserted' : 'reordered';
      gap.problem.message = `${e.streamId} revision ${gap.problem.revision} is out of log order (${gap.problem.kind})`;
      this.gap = undefined;
      return;
    }
    const last = this.chain.get(e.streamId);
    const expected = last ? last.revision + 1n : 0n;
    const report = (p: SealProblem): void => {
      this.chainProblem ??= p;
    };
    if (e.revision === expected) {
      const prevHash = last?.hash ?? GENESIS_HASH;
      if (computed !== e.metadata.hash)
        report({
          kind: 'edited',
          ...at,
          revision: Number(e.revision),
          message: `${e.streamId} revision ${e.revision} was changed after it was written`,
        });
      else if (e.metadata.prevHash !== prevHash)
        report({
          kind: 'edited',
          ...at,
          revision: Number(e.revision) - 1,
          message: `${e.streamId} revision ${Number(e.revision) - 1} is not the event revision ${e.revision} was chained to`,
        });
    } else if (e.revision > expected) {
      if (!this.chainProblem) {
        const problem: SealProblem = {
          kind: 'deleted',
          ...at,
          revision: Number(expected),
          message: `${e.streamId} revision ${expected} is missing (revision ${e.revision} follows ${expected - 1n})`,
        };
        this.chainProblem = problem;
        this.gap = { problem, streamId: e.streamId, jumped: e.revision, jumpedPrevHash: e.metadata.prevHash };
      }
    } else {
      report({
        kind: 'inserted',
        ...at,
        revision: Number(e.revision),
        message: `${e.streamId} revision ${e.revision} appears twice`,
      });
    }
    if (e.revision >= expected) this.chain.set(e.streamId, { revision: e.revision, hash: e.metadata.hash });
  }
}

export type { StreamFacts };
