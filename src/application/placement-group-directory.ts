import type { EventStore } from '../eventstore/event-store.port.js';
import { placementGroupIdOf } from '../domain/streams.js';

/**
 * Placement group ids, oldest first; each call reads only the part of the log it has not seen
 * (as HostDirectory does for hosts). Deleted groups stay listed here: their state says so.
 */
export class PlacementGroupDirectory {
  private after: bigint | undefined;
  private readonly ids: string[] = [];
  private readonly created = new Map<string, string>();

  constructor(private readonly store: EventStore) {}

  async list(): Promise<string[]> {
    for (;;) {
      const page = await this.store.readAll({
        ...(this.after !== undefined ? { after: this.after } : {}),
        types: ['PlacementGroupCreated'],
        streamPrefixes: ['pgroup-'],
        maxCount: 1000,
      });
      if (page.length === 0) break;
      for (const e of page) {
        const id = placementGroupIdOf(e.streamId);
        if (id && !this.created.has(id)) {
          this.ids.push(id);
          this.created.set(id, e.metadata.at);
        }
      }
      this.after = page[page.length - 1]!.position;
      if (page.length < 1000) break;
    }
    return [...this.ids];
  }

  /** When the group was created, once list() has seen it. */
  createdAt(id: string): string | null {
    return this.created.get(id) ?? null;
  }
}
