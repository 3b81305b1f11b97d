import type { KeyObject } from 'node:crypto';
import type { SealProblem } from './problems.js';
import { checkSealSignature, GENESIS_SEAL, sealHash, SEALS_STREAM, type SealBody } from './seal.js';

/** A seal as found in the store (`$seals` revision and log position) or only in the witness. */
export interface FoundSeal {
  /** null: a LogSealed event whose data is not a seal at all. */
  seal: SealBody | null;
  revision?: number;
  position?: bigint;
}

export interface SealPlan {
  /** Seals to check against the log, ascending count: the trusted store seals plus witness seals the store lost. */
  boundaries: SealBody[];
  /** Sequences the witness has and the store does not (missing or cut off, decided once the log is read). */
  lostFromStore: Set<number>;
  problem: SealProblem | null;
  total: number;
  witnessLines: number | null;
}

/**
 * Checks the seals before the log is read: each signed by a trusted key, numbered
 * 0, 1, 2…, each naming the previous one's hash, counts growing, and the witness
 * agreeing with the store. Trust stops at the first bad seal: later ones could be
 * anything. Without `keys` signatures are not checked (an import checks that the
 * seals fit the log; which key is trusted is the auditor's call).
 */
export function planSeals(stored: FoundSeal[], keys: readonly KeyObject[] | undefined, witness?: SealBody[]): SealPlan {
  let problem: SealProblem | null = null;
  const trusted: SealBody[] = [];
  let previous = GENESIS_SEAL;
  let count = 0;
  for (const f of stored) {
    const s = f.seal;
    const at = {
      streamId: SEALS_STREAM,
      ...(f.revision !== undefined ? { revision: f.revision } : {}),
      ...(f.position !== undefined ? { position: f.position.toString() } : {}),
    };
    if (!s) {
      problem = { kind: 'seal-forged', ...at, seal: trusted.length, message: 'a LogSealed event that is not a seal' };
      break;
    }
    const where = { ...at, seal: s.sequence };
    if (keys && !checkSealSignature(s, keys)) {
      problem = { kind: 'seal-forged', ...where, message: `seal ${s.sequence} is not signed by the trusted key` };
      break;
    }
    if (s.sequence > trusted.length) {
      problem = {
        kind: 'seal-missing',
        ...where,
        seal: trusted.length,
        message: `seal ${trusted.length} is missing from the store (the next one found is ${s.sequence})`,
      };
      break;
    }
    if (s.sequence < trusted.length || s.previous !== previous || s.count <= count) {
      problem = {
        kind: 'seal-forged',
        ...where,
        message: `seal ${s.sequence} does not extend seal ${trusted.length - 1} (sequence, previous hash or count)`,
      };
      break;
    }
    trusted.push(s);
    previous = sealHash(s);
    count = s.count;
  }
  const bySequence = new Map(trusted.map((s) => [s.sequence, s]));
  const lostFromStore = new Set<number>();
  const extra: SealBody[] = [];
  if (witness) {
    let wPrevious = GENESIS_SEAL;
    for (const [i, w] of witness.entries()) {
      const line = `witness line ${i + 1}`;
      if ((keys && !checkSealSignature(w, keys)) || w.previous !== wPrevious || w.sequence !== i) {
        problem ??= {
          kind: 'seal-forged',
          seal: w.sequence,
          message: `${line}: seal ${w.sequence} is not a valid seal`,
        };
        break;
      }
      wPrevious = sealHash(w);
      const mine = bySequence.get(w.sequence);
      if (mine && sealHash(mine) !== sealHash(w)) {
        problem ??= {
          kind: 'seal-forged',
          streamId: SEALS_STREAM,
          seal: w.sequence,
          message: `the store's seal ${w.sequence} differs from the witness's (${line})`,
        };
        break;
      }
      if (!mine && !problem) {
        lostFromStore.add(w.sequence);
        extra.push(w);
      }
    }
  }
  const boundaries = [...trusted, ...extra].sort((a, b) => a.count - b.count);
  return {
    boundaries,
    lostFromStore,
    problem,
    total: stored.length + extra.length,
    witnessLines: witness ? witness.length : null,
  };
}
