/**
 * Where a process's resident memory sits, by kind of mapping (/proc/<pid>/smaps), to
 * tell which allocator holds RSS that the V8 heaps do not explain: glibc's main malloc
 * arena (the brk `[heap]`), its per-thread arenas (anonymous blocks reserved 64 MiB at
 * a time, aligned to 64 MiB), other anonymous mappings (V8's heap pages of every isolate,
 * thread stacks, big mallocs and other allocators' chunks) and files (code, SQLite).
 */
import { readFileSync } from 'node:fs';

export interface ResidentByKind {
  /** glibc's main arena (the main thread's malloc), MiB. */
  brkHeap: number;
  /** glibc's per-thread arenas, MiB, and how many there are. */
  threadArenas: number;
  arenas: number;
  /** Other anonymous memory, MiB (V8 heaps, stacks, mmapped allocations). */
  otherAnon: number;
  /** File-backed memory, MiB (the binary, shared libraries, the SQLite files). */
  file: number;
}

/** glibc's HEAP_MAX_SIZE on 64-bit: a thread arena's reservation and alignment. */
const ARENA_BYTES = 64 * 1024 * 1024;
const MAPPING = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/;

interface Mapping {
  start: number;
  end: number;
  name: string;
  rssKiB: number;
}

/** Parses smaps text into its mappings (start, end, name, Rss). */
export function parseSmaps(text: string): Mapping[] {
  const maps: Mapping[] = [];
  for (const line of text.split('\n')) {
    const m = MAPPING.exec(line);
    if (m) maps.push({ start: parseInt(m[1]!, 16), end: parseInt(m[2]!, 16), name: m[3]!, rssKiB: 0 });
    else if (line.startsWith('Rss:') && maps.length) maps.at(-1)!.rssKiB = Number(line.split(/\s+/)[1]);
  }
  return maps;
}

/**
 * Classifies mappings: an anonymous mapping starting on a 64 MiB boundary opens a thread
 * arena, and the anonymous mappings after it inside the same 64 MiB (its reserve not yet
 * used) belong to it. A V8 page that happens to start on such a boundary is counted as an
 * arena: the split is evidence for a person to read, not an exact account.
 */
export function residentByKind(maps: readonly Mapping[]): ResidentByKind {
  const arenaStarts = new Set(maps.filter((m) => m.name === '' && m.start % ARENA_BYTES === 0).map((m) => m.start));
  const kib = { brkHeap: 0, threadArenas: 0, otherAnon: 0, file: 0 };
  for (const m of maps) {
    const block = m.start - (m.start % ARENA_BYTES);
    if (m.name === '[heap]') kib.brkHeap += m.rssKiB;
    else if (m.name === '' && arenaStarts.has(block) && m.end <= block + ARENA_BYTES) kib.threadArenas += m.rssKiB;
    else if (m.name.startsWith('/')) kib.file += m.rssKiB;
    else kib.otherAnon += m.rssKiB;
  }
  const mib = (x: number) => Math.round(x / 102.4) / 10;
  return {
    brkHeap: mib(kib.brkHeap),
    threadArenas: mib(kib.threadArenas),
    arenas: arenaStarts.size,
    otherAnon: mib(kib.otherAnon),
    file: mib(kib.file),
  };
}

/** The resident memory of process `pid` by kind, MiB. */
export function residentByKindOf(pid: number): ResidentByKind {
  return residentByKind(parseSmaps(readFileSync(`/proc/${pid}/smaps`, 'utf8')));
}
