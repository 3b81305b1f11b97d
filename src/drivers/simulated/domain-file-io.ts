import { createHash } from 'node:crypto';
import { close, closeSync, existsSync, fstatSync, open, openSync, readFileSync, write, writeSync } from 'node:fs';

/**
 * How one simulated domain's JSON reaches its file, and back.
 *
 * Why not write a temporary file and rename it over the old one (as before): on these machines
 * (ext4 on a virtual disk) replacing a file by a rename cost ~130 µs of CPU and ~0.8 ms of wall time
 * (ext4 starts writing the new file back when it replaces another: `auto_da_alloc`), and
 * `fs/promises`' readFile and writeFile take four or five thread-pool hops each (~100 and ~230 µs
 * of CPU over all threads), against ~10 µs to rewrite one page in place or to read the file
 * synchronously. A create stores its domain two or three times and loads it as often: the old way
 * cost ~0.9 ms of CPU per create in `node dist/bench/creates.js`, none of it the control plane's.
 *
 * So a domain's file is rewritten in place: one `write` at offset 0, no truncation. What keeps
 * that safe:
 * - A killed process leaves the old or the new text, never a mix: Linux copies a buffered write
 *   page by page and checks for a fatal signal only before each page, and the text is written in
 *   one call that fits in one page ({@link IN_PLACE_MAX}). A new domain's file is created empty
 *   and filled the same way ({@link createInPlace}). A longer text (a domain with many snapshots)
 *   still goes through a temporary file and a rename. A power cut is not covered (nor
 *   was it: the simulation never fsynced).
 * - A reader in another process may see a page half copied. The text carries a SHA-1 of itself,
 *   checked on every read: a torn read is read again; a text that never checks is an error.
 * - A shorter text than the file's is padded with spaces (JSON allows trailing whitespace), so
 *   the file never needs truncating and a reader never sees a stale tail as part of the text.
 *
 * The file stays the domain's JSON (tools, `jq` and tests read `bootCount` from it), with one more
 * key, `check`, last. A file without it (written before this, or by hand) is read as plain JSON.
 */

/** One page: the largest text written in place in a single call (see above). */
export const IN_PLACE_MAX = 4096;
const CHECK_KEY = ',\n  "check": "';
const SUM_LENGTH = 40;
/** Re-reads of a text that did not check before giving up: the writer's copy takes microseconds. */
const TORN_READ_RETRIES = 100;

/** The text written for a domain's pretty JSON (`{…\n}`): the same object plus its checksum. */
export function sealText(json: string): string {
  return json.slice(0, -2) + CHECK_KEY + sha1(json) + '"\n}\n';
}

/**
 * The domain's JSON in a file's text, or `undefined` when the text does not check (a torn read,
 * or a file cut short). An empty file (created, never written: a process killed in between) reads
 * as no domain; a file without `check` is taken as it is.
 */
export function unsealText(text: string): { json: string } | 'empty' | undefined {
  // The first occurrence is the real one: the domain's own keys are never named `check`, and a
  // nested key is indented deeper. What follows the checksum is padding, or (two processes having
  // written the same file at once, the last one shorter) another text's tail, ignored either way.
  const at = text.indexOf(CHECK_KEY);
  if (at < 0) {
    const body = text.trimEnd();
    if (body === '') return 'empty';
    return isWholeJson(body) ? { json: body } : undefined;
  }
  const json = text.slice(0, at) + '\n}';
  const from = at + CHECK_KEY.length;
  const ok = text.startsWith('"\n}', from + SUM_LENGTH) && text.slice(from, from + SUM_LENGTH) === sha1(json);
  return ok ? { json } : undefined;
}

/** Reads and checks one domain file; `undefined` when it does not exist or is empty. */
export function readDomainText(path: string): string | undefined {
  // A missing file is the usual case for a new domain (a define reads first): existsSync answers
  // without building the ENOENT error readFileSync would throw (~3 µs against ~14 µs).
  if (!existsSync(path)) return undefined;
  for (let attempt = 0; ; attempt++) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
    const found = unsealText(text);
    if (found === 'empty') return undefined;
    if (found) return found.json;
    if (attempt >= TORN_READ_RETRIES) throw new Error(`simulated domain file ${path} is corrupt (its check fails)`);
  }
}

/**
 * Rewrites an existing domain file in place with `sealed` (one `write` at offset 0). Returns false,
 * having written nothing, when that is not safe: no file yet (a new domain), or the old or the new
 * text is longer than a page; the caller then writes a temporary file and renames it.
 */
export function writeInPlace(path: string, sealed: Buffer): boolean {
  if (sealed.length > IN_PLACE_MAX) return false;
  // No file yet (a new domain): answered without the ENOENT error openSync would throw.
  if (!existsSync(path)) return false;
  let fd: number;
  try {
    fd = openSync(path, 'r+');
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
  try {
    const size = fstatSync(fd).size;
    // A tail past one page could not be padded away in the same single write.
    if (size > IN_PLACE_MAX) return false;
    // Padding to the old size instead of truncating: see the file's comment.
    const out = size > sealed.length ? padTo(sealed, size) : sealed;
    writeSync(fd, out, 0, out.length, 0);
    return true;
  } finally {
    closeSync(fd);
  }
}

/**
 * Creates a new domain file and writes `sealed` into it, in its place: `false`, having written
 * nothing, when the file exists already (another writer made it first, or a process killed between
 * creating and writing one left it empty: the caller rewrites it in place) or the text is longer
 * than a page. Safe for the reasons an in-place rewrite is: the file is created empty (an empty file
 * reads as no domain) and filled by one single-page write, so a killed process leaves no domain or
 * the whole text, and a reader in another process that catches it half copied reads again.
 *
 * Why not a temporary file renamed into place (as before): on this ext4 that is two more thread-pool
 * hops (the rename and a longer name) and `fs/promises`' file handles, about 4 % of the all-in-one
 * process's main thread under the create bench, for the one file a create makes. The callbacks of
 * `node:fs` keep the kernel's work (creating the inode) on the thread pool, as before, at less
 * main-thread cost than `fs/promises`' file handles.
 */
export async function createInPlace(path: string, sealed: Buffer): Promise<boolean> {
  if (sealed.length > IN_PLACE_MAX) return false;
  let fd: number;
  try {
    fd = await new Promise<number>((resolve, reject) => open(path, 'wx', (err, d) => (err ? reject(err) : resolve(d))));
  } catch (err) {
    if ((err as { code?: unknown }).code === 'EEXIST') return false;
    throw err;
  }
  let failed: unknown;
  try {
    await new Promise<void>((resolve, reject) =>
      write(fd, sealed, 0, sealed.length, 0, (err) => (err ? reject(err) : resolve())),
    );
  } catch (err) {
    failed = err;
  }
  await new Promise<void>((resolve, reject) => close(fd, (err) => (err && !failed ? reject(err) : resolve())));
  if (failed) throw failed;
  return true;
}

function padTo(bytes: Buffer, size: number): Buffer {
  const out = Buffer.alloc(size, 0x20);
  bytes.copy(out);
  return out;
}

function isWholeJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function sha1(text: string): string {
  return createHash('sha1').update(text).digest('hex');
}

export function isNotFound(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'ENOENT';
}
