import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { EventMetadata, EventStore, ExpectedState, NewEvent } from '../eventstore/event-store.port.js';
import { ExportFormatError, verifyExportLines, type OfflineBreak } from '../cli/verify-export.js';
import { verifyExportWithSeals } from './verify-export-seals.js';

/** The export cannot be imported: malformed, broken chain, or not whole streams. Nothing was written. */
export class ImportRefusedError extends Error {
  constructor(
    message: string,
    readonly chainBreak?: OfflineBreak,
  ) {
    super(message);
  }
}

/** Failed while writing; the store holds the events before `position` of the export and must be discarded. */
export class ImportWriteError extends Error {}

export interface ImportReport {
  imported: number;
  streams: number;
  /** Global positions the target store gave the first and last events (the export's own positions are not kept). */
  firstPosition: string | null;
  lastPosition: string | null;
}

interface ExportedLine {
  streamId: string;
  revision: number;
  id: string;
  type: string;
  data: Record<string, unknown>;
  metadata: EventMetadata;
}

const BATCH = 500;

function lines(path: string): AsyncIterable<string> {
  return createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
}

/**
 * Pass 1: the whole file must verify (the same check as `audit verify <file>`) and
 * hold whole streams: a stream starting past revision 0 (a ranged export) cannot be
 * re-chained from the genesis hash, so its hashes could not come out equal.
 */
async function checkFile(path: string): Promise<void> {
  const firstRevision = new Map<string, { revision: number; line: number }>();
  let n = 0;
  async function* tap(): AsyncIterable<string> {
    for await (const raw of lines(path)) {
      n++;
      try {
        const e = JSON.parse(raw) as Partial<ExportedLine>;
        if (typeof e.streamId === 'string' && !firstRevision.has(e.streamId) && typeof e.revision === 'number')
          firstRevision.set(e.streamId, { revision: e.revision, line: n });
      } catch {
        // verifyExportLines names the malformed line.
      }
      yield raw;
    }
  }
  let report;
  try {
    report = await verifyExportLines(tap());
  } catch (err) {
    if (err instanceof ExportFormatError) throw new ImportRefusedError(`refusing to import: ${err.message}`);
    throw err;
  }
  const b = report.firstBreak;
  if (b) {
    throw new ImportRefusedError(
      `refusing to import: the export's hash chain is broken at ${b.streamId} revision ${b.revision}` +
        `${b.line !== undefined ? ` (line ${b.line})` : ''}: expected ${b.expected} found ${b.found}`,
      b,
    );
  }
  if (report.count === 0) throw new ImportRefusedError('refusing to import: the export holds no events');
  for (const [streamId, first] of firstRevision) {
    if (first.revision !== 0)
      throw new ImportRefusedError(
        `refusing to import: stream ${streamId} starts at revision ${first.revision} (line ${first.line}), ` +
          'not 0; import a whole export (GET /v1/audit/export without fromPosition/vmId ranges that cut streams)',
      );
  }
  // Seals carry over as events of $seals; they must still fit the log they sealed. Which
  // key signed them is for `audit verify --key` to judge, so signatures are not checked here.
  const sealed = await verifyExportWithSeals(path);
  if (sealed.problem)
    throw new ImportRefusedError(
      `refusing to import: the export does not match its seals: ${sealed.problem.kind}: ${sealed.problem.message}`,
    );
}

/**
 * Writes a verified export into an empty store (opened by `open` only once the file
 * has verified, so a refused import creates nothing) through the EventStore port, in
 * the export's log order, keeping every event's id, type, data and metadata
 * (principal, correlation, causation, time, schema, reason), so the store
 * recomputes exactly the exported hashes. Consecutive events of one stream go in
 * one append; the store assigns new global positions.
 */
export async function importExport(path: string, open: () => Promise<EventStore>): Promise<ImportReport> {
  await checkFile(path);
  const store = await open();
  const head = await store.headPosition();
  if (head !== undefined)
    throw new ImportRefusedError(
      `refusing to import: the target store is not empty (its log ends at position ${head}); import only into an empty store`,
    );
  const streams = new Set<string>();
  let imported = 0;
  let firstPosition: bigint | undefined;
  let lastPosition: bigint | undefined;
  let batch: ExportedLine[] = [];

  const flush = async (): Promise<void> => {
    if (!batch.length) return;
    const first = batch[0]!;
    const expected: ExpectedState = first.revision === 0 ? 'no_stream' : BigInt(first.revision - 1);
    const events: NewEvent[] = batch.map((e) => ({ id: e.id, type: e.type, data: e.data, metadata: e.metadata }));
    let result;
    try {
      result = await store.append(first.streamId, events, expected);
    } catch (err) {
      throw new ImportWriteError(
        `import failed after ${imported} events, at ${first.streamId} revision ${first.revision}: ${(err as Error).message}; ` +
          'the target store is partly written: drop it and import again',
        { cause: err },
      );
    }
    for (const [i, rec] of result.events.entries()) {
      const want = batch[i]!;
      // Cannot happen once the file verified, unless the store changes what it is given.
      if (rec.metadata.hash !== want.metadata.hash || rec.revision !== BigInt(want.revision))
        throw new ImportWriteError(
          `import failed: ${want.streamId} revision ${want.revision} was stored with hash ${rec.metadata.hash}, ` +
            `the export says ${want.metadata.hash}; the target store is partly written: drop it`,
        );
    }
    firstPosition ??= result.events[0]!.position;
    lastPosition = result.position;
    imported += batch.length;
    streams.add(first.streamId);
    batch = [];
  };

  for await (const raw of lines(path)) {
    const text = raw.trim();
    if (!text) continue;
    const e = JSON.parse(text) as ExportedLine;
    if (batch.length && (batch[0]!.streamId !== e.streamId || batch.length >= BATCH)) await flush();
    batch.push(e);
  }
  await flush();
  return {
    imported,
    streams: streams.size,
    firstPosition: firstPosition?.toString() ?? null,
    lastPosition: lastPosition?.toString() ?? null,
  };
}
