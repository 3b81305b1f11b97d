import { createReadStream } from 'node:fs';
import type { EventView } from '../modules/audit/event.view.js';
import { createInterface } from 'node:readline';
import { checkLink, GENESIS_HASH } from '../eventstore/hash-chain.js';

export interface OfflineBreak {
  streamId: string;
  revision: number;
  expected: string;
  found: string;
  line?: number;
}

export interface OfflineReport {
  verified: boolean;
  count: number;
  streams: number;
  firstBreak: OfflineBreak | null;
}

/** One NDJSON line of `GET /v1/audit/export`: the v1 event shape. */
type ExportedEvent = EventView;

export class ExportFormatError extends Error {}

function parseLine(text: string, line: number): ExportedEvent {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new ExportFormatError(`line ${line}: not JSON (${(err as Error).message})`);
  }
  const e = v as Partial<ExportedEvent>;
  const ok =
    e !== null &&
    typeof e === 'object' &&
    typeof e.streamId === 'string' &&
    typeof e.id === 'string' &&
    typeof e.type === 'string' &&
    Number.isSafeInteger(e.revision) &&
    typeof e.data === 'object' &&
    e.data !== null &&
    typeof e.metadata === 'object' &&
    e.metadata !== null &&
    typeof e.metadata.prevHash === 'string' &&
    typeof e.metadata.hash === 'string';
  if (!ok)
    throw new ExportFormatError(
      `line ${line}: not an exported event (streamId, revision, id, type, data, metadata.prevHash/hash)`,
    );
  return e as ExportedEvent;
}

/**
 * Verifies an NDJSON export offline: per stream, each event must link to the
 * previous one (revisions contiguous) and its hash must recompute. A stream whose
 * first exported event is not revision 0 (a ranged export) is anchored on that
 * event's own prevHash.
 */
export async function verifyExportLines(lines: AsyncIterable<string> | Iterable<string>): Promise<OfflineReport> {
  const last = new Map<string, { hash: string; revision: number }>();
  let count = 0;
  let n = 0;
  for await (const raw of lines) {
    n++;
    const text = raw.trim();
    if (!text) continue;
    const e = parseLine(text, n);
    const prev = last.get(e.streamId);
    let prevHash: string;
    if (prev) {
      if (e.revision !== prev.revision + 1) {
        return {
          verified: false,
          count,
          streams: last.size,
          firstBreak: {
            streamId: e.streamId,
            revision: e.revision,
            expected: `revision ${prev.revision + 1}`,
            found: `revision ${e.revision}`,
            line: n,
          },
        };
      }
      prevHash = prev.hash;
    } else {
      prevHash = e.revision === 0 ? GENESIS_HASH : e.metadata.prevHash;
    }
    const b = checkLink({ ...e, revision: BigInt(e.revision) }, prevHash);
    if (b) {
      return {
        verified: false,
        count,
        streams: last.size,
        firstBreak: {
          streamId: b.streamId,
          revision: Number(b.revision),
          expected: b.expected,
          found: b.found,
          line: n,
        },
      };
    }
    last.set(e.streamId, { hash: e.metadata.hash, revision: e.revision });
    count++;
  }
  return { verified: true, count, streams: last.size, firstBreak: null };
}

export function verifyExportFile(path: string): Promise<OfflineReport> {
  const rl = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  return verifyExportLines(rl);
}
