import { existsSync, readFileSync } from 'node:fs';
import type { KeyObject } from 'node:crypto';
import { parsePublicKey, type SealBody } from '../eventstore/seals/seal.js';
import { parseWitness } from '../eventstore/seals/witness.js';
import type { LogVerifyReport } from '../eventstore/seals/problems.js';
import { CliError } from './client.js';

/** `--key` is a file (PEM or base64, e.g. saved from GET /v1/audit/seals/key) or the base64 key itself. */
export function readKeyArg(value: string): KeyObject {
  const text = existsSync(value) ? readFileSync(value, 'utf8') : value;
  try {
    return parsePublicKey(text);
  } catch (err) {
    throw new CliError(
      `--key: not an ed25519 public key (PEM, or base64 SPKI as served by GET /v1/audit/seals/key): ${(err as Error).message}`,
    );
  }
}

export function collectKeys(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function readWitnessArg(file: string): SealBody[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    return parseWitness(text);
  } catch (err) {
    throw new CliError(`${file}: ${(err as Error).message}`);
  }
}

/** One line for a person: what verified, or the first problem by kind with where it is. */
export function describeSealReport(r: LogVerifyReport): string {
  const p = r.problem;
  if (p) {
    const where = [
      p.streamId !== undefined ? ` at ${p.streamId}` : '',
      p.revision !== undefined ? ` revision ${p.revision}` : '',
      p.position !== undefined ? ` (position ${p.position})` : '',
    ].join('');
    return `TAMPERED: ${p.kind}${where}: ${p.message}`;
  }
  if (r.firstBreak) {
    const b = r.firstBreak;
    return `BROKEN at ${b.streamId} revision ${b.revision}: expected ${b.expected} found ${b.found}`;
  }
  const last = r.seals.last;
  const seals = last
    ? `${r.seals.verified} seals verified, the last (#${last.sequence}) covers ${last.count} events`
    : 'no seals';
  return `verified ${r.count} events in ${r.streams} streams; ${seals}; unsealed: ${r.unsealed}`;
}
