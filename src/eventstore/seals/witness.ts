import { readFileSync } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { parseSeal, type SealBody } from './seal.js';

/**
 * The witness: one JSON line per seal, appended and fsynced, outside the store. An
 * administrator who rewrites the database cannot take back a line already shipped
 * elsewhere (tail -F, syslog, object storage with retention).
 */
export async function appendWitness(file: string, seal: SealBody): Promise<void> {
  // On the thread pool: the fsync took tens of ms on this machine's disk, a stop of the event loop
  // (every request, saga and projection of the process) once per seal when it was synchronous.
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const handle = await open(file, 'a', 0o600);
  try {
    await handle.write(JSON.stringify(seal) + '\n');
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Parses witness text; a torn last line (a crash mid-write) is ignored, any other bad line throws naming it. */
export function parseWitness(text: string): SealBody[] {
  const lines = text.split('\n');
  const out: SealBody[] = [];
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim();
    if (!line) continue;
    try {
      out.push(parseSeal(JSON.parse(line)));
    } catch (err) {
      if (i === lines.length - 1) break;
      throw new TypeError(`witness line ${i + 1}: ${(err as Error).message}`, { cause: err });
    }
  }
  return out;
}

/** The witness's seals, [] when the file does not exist yet. */
export function readWitness(file: string): SealBody[] {
  try {
    return parseWitness(readFileSync(file, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}
