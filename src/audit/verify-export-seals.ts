import { createReadStream } from 'node:fs';
import type { KeyObject } from 'node:crypto';
import { createInterface } from 'node:readline';
import type { EventMetadata } from '../eventstore/event-store.port.js';
import { LogVerifier, type VerifiableEvent } from '../eventstore/seals/log-verifier.js';
import type { LogVerifyReport } from '../eventstore/seals/problems.js';
import { LOG_SEALED, parseSeal, SEALS_STREAM, type SealBody } from '../eventstore/seals/seal.js';
import type { FoundSeal } from '../eventstore/seals/seal-chain.js';
import { ExportFormatError } from '../cli/verify-export.js';

function lines(path: string): AsyncIterable<string> {
  return createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
}

/** One export line as the verifier reads it; names the line when it is not an exported event. */
export function exportedEvent(text: string, line: number): VerifiableEvent {
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new ExportFormatError(`line ${line}: not JSON (${(err as Error).message})`);
  }
  const meta = v?.metadata as Partial<EventMetadata> | undefined;
  if (
    typeof v?.streamId !== 'string' ||
    typeof v.id !== 'string' ||
    typeof v.type !== 'string' ||
    !Number.isSafeInteger(v.revision) ||
    (v.position !== undefined && (typeof v.position !== 'string' || !/^\d+$/.test(v.position))) ||
    typeof v.data !== 'object' ||
    v.data === null ||
    typeof meta?.hash !== 'string' ||
    typeof meta.prevHash !== 'string'
  )
    throw new ExportFormatError(
      `line ${line}: not an exported event (position, streamId, revision, id, type, data, metadata)`,
    );
  return {
    id: v.id,
    streamId: v.streamId,
    revision: BigInt(v.revision as number),
    // Older exports had no position: the line number keeps log order all the same.
    position: typeof v.position === 'string' ? BigInt(v.position) : BigInt(line),
    type: v.type,
    data: v.data as Record<string, unknown>,
    metadata: meta as EventMetadata,
  };
}

/**
 * Verifies a whole export (GET /v1/audit/export without ranges) with its seals,
 * offline: pass 1 collects the LogSealed events, pass 2 replays the log through the
 * same verifier the server runs. Only the public key (and the witness) come from
 * outside the file.
 */
export async function verifyExportWithSeals(
  path: string,
  options: { keys?: readonly KeyObject[]; witness?: SealBody[] } = {},
): Promise<LogVerifyReport> {
  const seals: FoundSeal[] = [];
  let n = 0;
  for await (const raw of lines(path)) {
    n++;
    if (!raw.trim()) continue;
    const e = exportedEvent(raw, n);
    if (e.streamId !== SEALS_STREAM || e.type !== LOG_SEALED) continue;
    let seal: SealBody | null;
    try {
      seal = parseSeal(e.data);
    } catch {
      seal = null;
    }
    seals.push({ seal, revision: Number(e.revision), position: e.position });
  }
  const verifier = new LogVerifier(seals, options);
  n = 0;
  for await (const raw of lines(path)) {
    n++;
    if (raw.trim()) verifier.feed(exportedEvent(raw, n));
  }
  return verifier.finish();
}
