import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmodSync, closeSync, fsyncSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { parsePrivateKey } from './seal.js';

export interface SealKeys {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** True when this call generated the key (first start). */
  created: boolean;
}

/**
 * The sealer's ed25519 key: read from `file`, or generated there on first start
 * (PKCS#8 PEM, mode 0600, its directory 0700; `wx` so two processes starting at once
 * cannot both write one). A key file readable by group or others is refused: whoever
 * reads it can sign seals.
 */
export function loadOrCreateSealKey(file: string): SealKeys {
  try {
    const mode = statSync(file).mode & 0o777;
    if (mode & 0o077) throw new Error(`${file} is readable by others (mode ${mode.toString(8)}): chmod 600 it`);
    const privateKey = parsePrivateKey(readFileSync(file, 'utf8'));
    return { privateKey, publicKey: createPublicKey(privateKey), created: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
  let fd: number;
  try {
    fd = openSync(file, 'wx', 0o600);
  } catch (err) {
    // Another process won the race: use its key.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return loadOrCreateSealKey(file);
    throw err;
  }
  try {
    writeSync(fd, pem);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(file, 0o600);
  return { privateKey, publicKey, created: true };
}
