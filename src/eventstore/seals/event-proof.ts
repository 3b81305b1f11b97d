import type { KeyObject } from 'node:crypto';
import type { EventData, EventMetadata } from '../event-store.port.js';
import { eventHash } from '../hash-chain.js';
import { eventLeaf, verifyInclusion } from './merkle.js';
import { checkSealSignature, parseSeal, type SealBody } from './seal.js';

/** One event, as exported, with what proves it is in a signed seal. */
export interface EventProof {
  v: 1;
  event: {
    position: string;
    streamId: string;
    revision: number;
    id: string;
    type: string;
    data: EventData;
    metadata: EventMetadata;
  };
  /** The event's 0-based index in log order: its leaf. */
  leafIndex: number;
  /** = seal.count. */
  treeSize: number;
  /** RFC 6962 audit path, hex, leaf to root. */
  proof: string[];
  seal: SealBody;
}

export type ProofVerdict = { ok: true } | { ok: false; reason: string };

/**
 * Checks a proof with only the public key: the event's content gives its chain hash,
 * the hash is the leaf at `leafIndex`, the path leads to the seal's root, and the seal
 * is signed by the key. `expectSeal` (a witness line obtained elsewhere) pins which
 * seal the proof must be against.
 */
export function checkEventProof(p: EventProof, keys: readonly KeyObject[], expectSeal?: SealBody): ProofVerdict {
  let seal: SealBody;
  try {
    seal = parseSeal(p.seal);
  } catch (err) {
    return { ok: false, reason: `the proof's seal: ${(err as Error).message}` };
  }
  const e = p.event;
  if (!e || typeof e.metadata?.hash !== 'string' || !Number.isSafeInteger(e.revision))
    return { ok: false, reason: 'the proof holds no event' };
  const hash = eventHash({ ...e, revision: BigInt(e.revision), prevHash: e.metadata.prevHash });
  if (hash !== e.metadata.hash)
    return { ok: false, reason: `the event's content does not give its hash ${e.metadata.hash}` };
  if (!checkSealSignature(seal, keys))
    return { ok: false, reason: `seal ${seal.sequence} is not signed by the given key` };
  if (
    expectSeal &&
    (expectSeal.sequence !== seal.sequence || expectSeal.root !== seal.root || expectSeal.count !== seal.count)
  )
    return { ok: false, reason: `the proof is against seal ${seal.sequence}, not the seal given` };
  if (p.treeSize !== seal.count)
    return { ok: false, reason: `the proof is for ${p.treeSize} events, the seal covers ${seal.count}` };
  if (!Array.isArray(p.proof) || !p.proof.every((h) => typeof h === 'string' && /^[0-9a-f]{64}$/.test(h)))
    return { ok: false, reason: 'the audit path is not a list of sha256 hex digests' };
  const path = p.proof.map((h) => Buffer.from(h, 'hex'));
  if (!verifyInclusion(eventLeaf(hash), p.leafIndex, seal.count, path, Buffer.from(seal.root, 'hex')))
    return { ok: false, reason: `the event is not leaf ${p.leafIndex} of seal ${seal.sequence}'s tree` };
  return { ok: true };
}
