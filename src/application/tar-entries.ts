import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';

/** One member of a tar archive as its header says: the path (leading "./" dropped) and its type. */
export interface TarEntry {
  name: string;
  /** '0' regular, '1' hard link, '2' symlink, '3'/'4' device, '5' directory, '6' fifo, … */
  type: string;
  size: number;
}

const BLOCK = 512;

function field(block: Buffer, start: number, length: number): string {
  const raw = block.subarray(start, start + length);
  const nul = raw.indexOf(0);
  return raw.subarray(0, nul === -1 ? length : nul).toString('utf8');
}

function octal(block: Buffer, start: number, length: number): number {
  const text = field(block, start, length).trim();
  if (!/^[0-7]*$/.test(text)) throw new Error('not a tar archive: a size field is not octal');
  return text === '' ? 0 : parseInt(text, 8);
}

/** The "path" record of a PAX extended header, if any. */
function paxPath(data: Buffer): string | undefined {
  const m = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(data.toString('utf8'));
  return m?.[1];
}

function normalise(name: string): string {
  return name.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
}

function isZeroBlock(b: Buffer): boolean {
  for (const byte of b) if (byte !== 0) return false;
  return true;
}

/**
 * Lists a tar (optionally gzip-compressed) by reading its headers in one pass, skipping the
 * contents: enough to tell a kernel bundle from a rootfs without unpacking anything. Throws
 * when the stream is not a well-formed tar (a bad checksum, a non-octal size, a truncated member).
 */
export async function listTar(path: string, gzip: boolean, maxEntries = 1_000_000): Promise<TarEntry[]> {
  const source: Readable = gzip ? createReadStream(path).pipe(createGunzip()) : createReadStream(path);
  const entries: TarEntry[] = [];
  let pending: Buffer = Buffer.alloc(0);
  let skip = 0;
  let collect: { bytes: number; kind: 'L' | 'x'; padded: number } | undefined;
  let collected: Buffer[] = [];
  let nextName: string | undefined;
  let ended = false;
  for await (const chunk of source as AsyncIterable<Buffer>) {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    let offset = 0;
    while (!ended) {
      if (skip > 0) {
        const n = Math.min(skip, pending.length - offset);
        if (collect) collected.push(pending.subarray(offset, offset + n));
        skip -= n;
        offset += n;
        if (skip > 0) break;
        if (collect) {
          const data = Buffer.concat(collected).subarray(0, collect.bytes);
          nextName = collect.kind === 'L' ? field(data, 0, data.length) : (paxPath(data) ?? nextName);
          collect = undefined;
          collected = [];
        }
        continue;
      }
      if (pending.length - offset < BLOCK) break;
      const header = pending.subarray(offset, offset + BLOCK);
      offset += BLOCK;
      if (isZeroBlock(header)) {
        ended = true;
        break;
      }
      const sum = octal(header, 148, 8);
      let actual = 0;
      for (let i = 0; i < BLOCK; i++) actual += i >= 148 && i < 156 ? 32 : header[i]!;
      if (sum !== actual) throw new Error('not a tar archive: a header checksum does not match');
      const size = octal(header, 124, 12);
      const type = field(header, 156, 1) || '0';
      const padded = Math.ceil(size / BLOCK) * BLOCK;
      if (type === 'L' || type === 'x') {
        collect = { bytes: size, kind: type, padded };
        skip = padded;
        continue;
      }
      if (type === 'g') {
        skip = padded;
        continue;
      }
      const prefix = field(header, 257, 6).startsWith('ustar') ? field(header, 345, 155) : '';
      const name = nextName ?? (prefix ? `${prefix}/${field(header, 0, 100)}` : field(header, 0, 100));
      nextName = undefined;
      entries.push({ name: normalise(name), type: type === '\0' ? '0' : type, size });
      if (entries.length > maxEntries) throw new Error(`more than ${maxEntries} members`);
      // Links, directories and devices carry no data whatever their size field says.
      skip = type === '0' || type === '7' ? padded : 0;
    }
    pending = pending.subarray(offset);
    if (ended) break;
  }
  source.destroy();
  if (!ended && (skip > 0 || pending.length > 0 || entries.length === 0)) {
    throw new Error('not a tar archive: it ends in the middle of a member');
  }
  return entries;
}
