/**
 * The entry counts of the server's bounded caches, read through its inspector (no
 * debug endpoint in the product): one `Runtime.queryObjects` over Object.prototype
 * (a heap walk, ~0.3 s idle) lists the live objects, the cache classes' instances are
 * picked by constructor name, and their maps' sizes and limits are read. The `load`
 * scenario uses it to tell a heap that grows because these caches are still filling
 * from one that grows with them full (a leak). (Runtime.evaluate cannot import() the
 * classes: Node gives the inspector no dynamic-import callback.)
 */
import type { InspectorCall } from './inspector-heap.js';

export interface CacheFigure {
  name: string;
  entries: number;
  /** Entries kept at most; undefined for a map bounded only by the data (one entry per stream). */
  limit: number | undefined;
}

interface CacheSpec {
  name: string;
  cls: string;
  /** Source of a function of one instance returning [entries, limit] pairs (limit null: no bound). */
  read: string;
}

const SPECS: readonly CacheSpec[] = [
  {
    name: 'aggregates',
    cls: 'AggregateLoader',
    read: '(x) => [[x.cache.size, x.limit]]',
  },
  {
    name: 'saga states',
    cls: 'EventStates',
    read: '(x) => [[x.handled.size, x.limit]]',
  },
  {
    name: 'projection records',
    cls: 'RecordCache',
    read: '(x) => [[x.entries.size, x.limit]]',
  },
  {
    name: 'projection stream revisions',
    cls: 'StreamRevisions',
    read: '(x) => [[x.revisions.size, x.limit]]',
  },
  {
    name: 'read-your-writes',
    cls: 'ReadYourWrites',
    read: '(x) => [x.streams, x.operations, x.principals].map((r) => [r.map.size, r.limit])',
  },
  {
    name: 'shared tail',
    cls: 'SharedTail',
    read: '(x) => [[x.events.length, x.maxEvents]]',
  },
  // ReadModels' host names are cleared at 10,000 (a module constant): the bound is the same.
  {
    name: 'host names',
    cls: 'ReadModels',
    read: '(x) => [[x.hostNames.size, 10000]]',
  },
  // A host worker's StartedReports keeps the last 4,096 operations' started steps (REMEMBERED_STARTS, a module constant).
  {
    name: 'host worker starts',
    cls: 'StartedReports',
    read: '(x) => [[x.sent.size, 4096]]',
  },
  // One entry per stream of the log: bounded by the data, not by a limit (listed so that its growth is seen).
  {
    name: 'sealer streams',
    cls: 'Sealer',
    read: '(x) => [[x.streams.size, null]]',
  },
];

/** The caches of the process behind `call`, in SPECS order (those with no live instance left out). */
export async function cacheCensus(call: InspectorCall): Promise<CacheFigure[]> {
  const proto = await call('Runtime.evaluate', { expression: 'Object.prototype', objectGroup: 'census' });
  const all = await call('Runtime.queryObjects', {
    prototypeObjectId: objectId(proto, 'result'),
    objectGroup: 'census',
  });
  const readers = `{${SPECS.map((s) => `${JSON.stringify(s.cls)}: ${s.read}`).join(', ')}}`;
  const read = await call('Runtime.callFunctionOn', {
    objectId: objectId(all, 'objects'),
    functionDeclaration: `function () {
      const readers = ${readers};
      const out = {};
      for (const x of this) {
        let name;
        try { name = Object.getPrototypeOf(x)?.constructor?.name; } catch { continue; }
        if (typeof name === 'string' && Object.hasOwn(readers, name)) (out[name] ??= []).push(...readers[name](x));
      }
      return out;
    }`,
    returnByValue: true,
  });
  await call('Runtime.releaseObjectGroup', { objectGroup: 'census' });
  const value = (read.result as { value?: Record<string, Array<[number, number | null]>> } | undefined)?.value;
  if (!value) throw new Error(`cache census: ${JSON.stringify(read).slice(0, 300)}`);
  // Several instances of a class (one per projection, per saga…) are summed: one figure per kind of cache.
  return SPECS.filter((spec) => value[spec.cls]?.length).map((spec) => {
    const pairs = value[spec.cls]!;
    const name = pairs.length > 1 ? `${spec.name} (×${pairs.length})` : spec.name;
    const entries = pairs.reduce((n, [e]) => n + e, 0);
    const unbounded = pairs.some(([, l]) => l === null);
    return { name, entries, limit: unbounded ? undefined : pairs.reduce((n, [, l]) => n + l!, 0) };
  });
}

function objectId(result: Record<string, unknown>, field: string): string {
  const id = (result[field] as { objectId?: string } | undefined)?.objectId;
  if (!id) throw new Error(`cache census: no object: ${JSON.stringify(result).slice(0, 300)}`);
  return id;
}
