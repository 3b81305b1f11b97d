/** What verify names when the log and its seals disagree (the first problem only). */
export type ProblemKind =
  'edited' | 'inserted' | 'deleted' | 'reordered' | 'stream-deleted' | 'truncated' | 'seal-forged' | 'seal-missing';

export interface SealProblem {
  kind: ProblemKind;
  /** The stream, and the first revision not proven intact (for a recomputed chain: the first one after its last intact seal). */
  streamId?: string;
  revision?: number;
  /** Where in this log (decimal string), when the event is still there. */
  position?: string;
  /** Sequence of the seal that caught it, or that is missing or forged. */
  seal?: number;
  message: string;
}

export interface SealSummary {
  /** Seals found (store and witness). */
  total: number;
  /** Seals whose root, signature and chain checked out against the log. */
  verified: number;
  last: null | { sequence: number; count: number; position: string; root: string; sealedAt: string };
  /** `unchecked`: no public key was given (an import checks roots and the chain only). */
  signatures: 'checked' | 'unchecked';
  /** Lines in the witness, null when none was given. */
  witness: number | null;
}

/** The v1 verify report (verified, count, streams, firstBreak) plus the seals' verdict. */
export interface LogVerifyReport {
  verified: boolean;
  /** Events whose chain verified before the first chain break (all of them when none). */
  count: number;
  streams: number;
  firstBreak: null | { streamId: string; revision: number; expected: string; found: string };
  problem: SealProblem | null;
  seals: SealSummary;
  /** Events after the last verified seal, seal events themselves not counted. */
  unsealed: number;
}
