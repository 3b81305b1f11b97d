/** Streams remembered at most; a forgotten one falls back to waiting for the log position. */
export const STREAM_REVISIONS_LIMIT = 50_000;

/**
 * The last revision a projection applied per stream, bounded (least recently
 * applied streams are forgotten). Only a positive answer is trusted: a stream
 * not remembered is "not known to be reached", and the caller also accepts the
 * global position.
 */
export class StreamRevisions {
  private readonly revisions = new Map<string, bigint>();

  constructor(private readonly limit = STREAM_REVISIONS_LIMIT) {}

  applied(streamId: string, revision: bigint): void {
    this.revisions.delete(streamId);
    this.revisions.set(streamId, revision);
    if (this.revisions.size <= this.limit) return;
    const oldest = this.revisions.keys().next();
    if (!oldest.done) this.revisions.delete(oldest.value);
  }

  reached(streamId: string, revision: bigint): boolean {
    const at = this.revisions.get(streamId);
    return at !== undefined && at >= revision;
  }

  clear(): void {
    this.revisions.clear();
  }
}
