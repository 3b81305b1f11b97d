import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { canonicalJson } from '../canonical-json.js';

/** The stream the sealer appends to, and the type of its events. */
export const SEALS_STREAM = '$seals';
export const LOG_SEALED = 'LogSealed';
/** `previous` of the first seal. */
export const GENESIS_SEAL = '0'.repeat(64);
/** Domain separation: a seal signature can never be replayed as a signature over anything else. */
const SIGNING_CONTEXT = 'virtledger-seal-v1\n';

/** The last event of one stream among the events a seal adds to the previous one. */
export interface SealHead {
  streamId: string;
  revision: number;
  hash: string;
}

/**
 * One signed seal, as stored in `LogSealed.data` on `$seals` and as one line of the
 * witness. It covers the first `count` events of the log in log order (every stream,
 * `$seals` included: a seal's own event is a leaf of the next seal, never of itself).
 */
export interface SealBody {
  v: 1;
  /** 0 for the first seal, then +1. */
  sequence: number;
  /** Leaves covered: the first `count` events of the log. */
  count: number;
  /** Position of the last covered event in the store that sealed it (informational after an import). */
  position: string;
  /** Id of the last covered event: it survives an export and import, positions do not. */
  lastEventId: string;
  /** RFC 6962 Merkle root (hex) over the covered events' chain hashes. */
  root: string;
  /** sealHash of the previous seal, GENESIS_SEAL for the first. */
  previous: string;
  /** For every stream with events among leaves (previous.count, count]: its last one there, sorted by streamId. */
  heads: SealHead[];
  sealedAt: string;
  /** sha256 (hex) of the public key (SPKI DER) that signed. */
  keyId: string;
  /** ed25519 signature (base64) over SIGNING_CONTEXT + canonical JSON of every other field. */
  signature: string;
}

export type UnsignedSeal = Omit<SealBody, 'signature' | 'keyId'>;

export function signingPayload(body: Omit<SealBody, 'signature'>): Buffer {
  const rest: Record<string, unknown> = { ...body };
  delete rest.signature;
  return Buffer.from(SIGNING_CONTEXT + canonicalJson(rest), 'utf8');
}

/** The seal's identity, chained by the next seal's `previous`. */
export function sealHash(seal: SealBody): string {
  return createHash('sha256').update(canonicalJson(seal)).digest('hex');
}

export function publicKeyText(key: KeyObject): string {
  return (key.export({ format: 'der', type: 'spki' }) as Buffer).toString('base64');
}

export function keyIdOf(key: KeyObject): string {
  return createHash('sha256')
    .update(key.export({ format: 'der', type: 'spki' }) as Buffer)
    .digest('hex');
}

/** A public key given as PEM or as base64 SPKI DER (what GET /v1/audit/seals/key serves). */
export function parsePublicKey(text: string): KeyObject {
  const t = text.trim();
  const key = t.startsWith('-----')
    ? createPublicKey(t)
    : createPublicKey({ key: Buffer.from(t, 'base64'), format: 'der', type: 'spki' });
  if (key.asymmetricKeyType !== 'ed25519') throw new TypeError('the seal key must be an ed25519 public key');
  return key;
}

export function parsePrivateKey(pem: string): KeyObject {
  const key = createPrivateKey(pem);
  if (key.asymmetricKeyType !== 'ed25519') throw new TypeError('the seal key must be an ed25519 private key');
  return key;
}

export function signSeal(unsigned: UnsignedSeal, privateKey: KeyObject): SealBody {
  const keyId = keyIdOf(createPublicKey(privateKey));
  const withKey = { ...unsigned, keyId };
  return { ...withKey, signature: sign(null, signingPayload(withKey), privateKey).toString('base64') };
}

/** True when one of `keys` signed exactly this seal. */
export function checkSealSignature(seal: SealBody, keys: readonly KeyObject[]): boolean {
  const key = keys.find((k) => keyIdOf(k) === seal.keyId);
  if (!key) return false;
  try {
    return verify(null, signingPayload(seal), key, Buffer.from(seal.signature, 'base64'));
  } catch {
    return false;
  }
}

const HEX64 = /^[0-9a-f]{64}$/;

/** Reads a seal from event data or a witness line; throws TypeError naming what is wrong. */
export function parseSeal(value: unknown): SealBody {
  const v = value as Partial<SealBody> | null;
  const ok =
    v !== null &&
    typeof v === 'object' &&
    v.v === 1 &&
    Number.isSafeInteger(v.sequence) &&
    Number.isSafeInteger(v.count) &&
    typeof v.position === 'string' &&
    typeof v.lastEventId === 'string' &&
    typeof v.root === 'string' &&
    HEX64.test(v.root) &&
    typeof v.previous === 'string' &&
    HEX64.test(v.previous) &&
    Array.isArray(v.heads) &&
    v.heads.every(
      (h: Partial<SealHead>) =>
        typeof h?.streamId === 'string' && Number.isSafeInteger(h.revision) && typeof h.hash === 'string',
    ) &&
    typeof v.sealedAt === 'string' &&
    typeof v.keyId === 'string' &&
    typeof v.signature === 'string';
  if (!ok)
    throw new TypeError(
      'not a seal (v, sequence, count, position, lastEventId, root, previous, heads, keyId, signature)',
    );
  return v as SealBody;
}
