import type { KeyObject } from 'node:crypto';
import type { EventStore } from '../event-store.port.js';
import type { EventProof } from './event-proof.js';
import type { LogVerifyReport } from './problems.js';
import { keyIdOf, publicKeyText, type SealBody } from './seal.js';
import { proveEvent, readStoredSeals, verifyStore } from './store-audit.js';
import { readWitness } from './witness.js';

export interface SealView extends SealBody {
  /** Revision on `$seals` and position in this store's log. */
  streamRevision: number;
  logPosition: string;
}

export interface SealKeyView {
  /** base64 SPKI DER: what `virtledger audit verify --key` takes. */
  publicKey: string;
  pem: string;
  keyId: string;
  algorithm: 'ed25519';
}

/** What the HTTP edge asks about seals, over the EventStore port and the public key (no private key here). */
export class SealAudit {
  constructor(
    private readonly store: EventStore,
    private readonly publicKey: KeyObject,
    private readonly witnessFile: string | undefined,
  ) {}

  key(): SealKeyView {
    return {
      publicKey: publicKeyText(this.publicKey),
      pem: this.publicKey.export({ format: 'pem', type: 'spki' }) as string,
      keyId: keyIdOf(this.publicKey),
      algorithm: 'ed25519',
    };
  }

  /** The whole log, checked against this server's key and its witness file. */
  verify(): Promise<LogVerifyReport> {
    return verifyStore(this.store, {
      keys: [this.publicKey],
      ...(this.witnessFile ? { witness: readWitness(this.witnessFile) } : {}),
    });
  }

  async seals(): Promise<SealView[]> {
    const found = await readStoredSeals(this.store);
    return found.flatMap((f) =>
      f.seal ? [{ ...f.seal, streamRevision: f.revision ?? 0, logPosition: (f.position ?? 0n).toString() }] : [],
    );
  }

  proof(position: bigint): Promise<EventProof> {
    return proveEvent(this.store, position);
  }
}
