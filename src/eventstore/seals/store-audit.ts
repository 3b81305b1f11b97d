import type { KeyObject } from 'node:crypto';
import { StreamNotFoundError } from '../errors.js';
import type { EventStore, RecordedEvent } from '../event-store.port.js';
import { LogVerifier } from './log-verifier.js';
import { storedEventLeaf, inclusionProof, rootOf } from './merkle.js';
import type { LogVerifyReport } from './problems.js';
import type { EventProof } from './event-proof.js';
import { LOG_SEALED, parseSeal, SEALS_STREAM, type SealBody } from './seal.js';
import type { FoundSeal } from './seal-chain.js';
import { exportRecord } from '../export-record.js';

const PAGE = 1000;

/** Every LogSealed event on `$seals`, in order; one that does not parse is kept as null (verify calls it forged). */
export async function readStoredSeals(store: EventStore): Promise<FoundSeal[]> {
  let events: RecordedEvent[];
  try {
    events = await store.readStream(SEALS_STREAM);
  } catch (err) {
    if (err instanceof StreamNotFoundError) return [];
    throw err;
  }
  return events
    .filter((e) => e.type === LOG_SEALED)
    .map((e) => {
      let seal: SealBody | null;
      try {
        seal = parseSeal(e.data);
      } catch {
        seal = null;
      }
      return { seal, revision: Number(e.revision), position: e.position };
    });
}

async function forEachEvent(store: EventStore, fn: (e: RecordedEvent) => boolean | void): Promise<void> {
  let after: bigint | undefined;
  for (;;) {
    const page = await store.readAll({ ...(after !== undefined ? { after } : {}), maxCount: PAGE });
    if (page.length === 0) return;
    for (const e of page) if (fn(e) === false) return;
    after = page[page.length - 1]!.position;
  }
}

/** GET /v1/audit/verify over the whole log: chains, every seal (root, signature, chain), the witness. */
export async function verifyStore(
  store: EventStore,
  options: { keys?: readonly KeyObject[]; witness?: SealBody[] } = {},
): Promise<LogVerifyReport> {
  const verifier = new LogVerifier(await readStoredSeals(store), options);
  await forEachEvent(store, (e) => verifier.feed(e));
  return verifier.finish();
}

export class ProofUnavailableError extends Error {
  constructor(
    message: string,
    readonly reason: 'no-seal' | 'not-found' | 'not-sealed' | 'log-changed',
  ) {
    super(message);
  }
}

/**
 * The inclusion proof of the event at `position` against the latest seal. Costs one
 * read of the sealed part of the log (32 bytes per event kept): proofs are asked for
 * by auditors, not on a hot path.
 */
export async function proveEvent(store: EventStore, position: bigint): Promise<EventProof> {
  const seals = await readStoredSeals(store);
  const seal = seals[seals.length - 1]?.seal;
  if (!seal) throw new ProofUnavailableError('the log has no seal yet', 'no-seal');
  const leaves: Buffer[] = [];
  let found: { e: RecordedEvent; index: number } | undefined;
  await forEachEvent(store, (e) => {
    if (leaves.length >= seal.count) return false;
    if (e.position === position) found = { e, index: leaves.length };
    leaves.push(storedEventLeaf(e.metadata.hash));
  });
  if (!found) {
    const head = await store.headPosition();
    if (head !== undefined && position <= head && position > BigInt(seal.position))
      throw new ProofUnavailableError(`the event at position ${position} is after seal ${seal.sequence}`, 'not-sealed');
    throw new ProofUnavailableError(`no sealed event at position ${position}`, 'not-found');
  }
  if (leaves.length < seal.count || rootOf(leaves).toString('hex') !== seal.root)
    throw new ProofUnavailableError(
      `the log no longer matches seal ${seal.sequence}: run GET /v1/audit/verify`,
      'log-changed',
    );
  const { e, index } = found;
  return {
    v: 1,
    event: exportRecord(e),
    leafIndex: index,
    treeSize: seal.count,
    proof: inclusionProof(leaves, index, seal.count).map((h) => h.toString('hex')),
    seal,
  };
}
