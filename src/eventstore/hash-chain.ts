import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json.js';
import type { EventData, EventMetadata, EventMetadataInput, NewEvent } from './event-store.port.js';

/** prevHash of the first event of every stream. */
export const GENESIS_HASH = '0'.repeat(64);

export interface HashInput {
  id: string;
  streamId: string;
  revision: bigint;
  type: string;
  data: EventData;
  metadata: EventMetadataInput;
  prevHash: string;
}

/**
 * sha256 over canonical JSON of everything an auditor relies on (id, stream,
 * revision, type, data, metadata without the hash itself) plus the previous
 * hash. Position is excluded on purpose: it is assigned by the store and an
 * export re-imported elsewhere gets new positions but must still verify.
 */
export function eventHash(input: HashInput): string {
  const meta: Record<string, unknown> = { ...input.metadata };
  delete meta.prevHash;
  delete meta.hash;
  // Fields are picked explicitly so that extra properties (position) never leak into the hash.
  const body = canonicalJson({
    id: input.id,
    streamId: input.streamId,
    revision: input.revision,
    type: input.type,
    data: input.data,
    metadata: meta,
    prevHash: input.prevHash,
  });
  return createHash('sha256').update(body).digest('hex');
}

/** Chains new events onto a stream whose last event has hash `prevHash` and revision `lastRevision` (-1n for none). */
export function chainEvents(
  streamId: string,
  events: NewEvent[],
  lastRevision: bigint,
  prevHash: string,
): Array<NewEvent & { revision: bigint; metadata: EventMetadata }> {
  let prev = prevHash;
  return events.map((e, i) => {
    const revision = lastRevision + 1n + BigInt(i);
    const hash = eventHash({
      id: e.id,
      streamId,
      revision,
      type: e.type,
      data: e.data,
      metadata: e.metadata,
      prevHash: prev,
    });
    const metadata: EventMetadata = { ...e.metadata, prevHash: prev, hash };
    prev = hash;
    return { ...e, revision, metadata };
  });
}

export interface ChainBreak {
  streamId: string;
  revision: bigint;
  expected: string;
  found: string;
}

type ChainedEvent = {
  id: string;
  streamId: string;
  revision: bigint;
  type: string;
  data: EventData;
  metadata: EventMetadata;
};

/** Checks one event against the hash its predecessor in the stream ended with. */
export function checkLink(e: ChainedEvent, prevHash: string): ChainBreak | null {
  if (e.metadata.prevHash !== prevHash) {
    return { streamId: e.streamId, revision: e.revision, expected: prevHash, found: e.metadata.prevHash };
  }
  const expected = eventHash({ ...e, prevHash });
  if (expected !== e.metadata.hash)
    return { streamId: e.streamId, revision: e.revision, expected, found: e.metadata.hash };
  return null;
}

/** Recomputes the chain of one stream's events (in revision order); returns the first break or null. */
export function verifyChain(events: ChainedEvent[]): ChainBreak | null {
  let prev = GENESIS_HASH;
  for (const e of events) {
    const b = checkLink(e, prev);
    if (b) return b;
    prev = e.metadata.hash;
  }
  return null;
}
