import { execFileSync } from 'node:child_process';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import type { TestApp, TestRole } from './app.js';
import { TOKENS } from './app.js';

export const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** A real qcow2 made by qemu-img (optionally over a backing file). */
export function qcow2(dir: string, name = 'disk.qcow2', backing?: string): Buffer {
  const path = join(dir, name);
  const args = ['create', '-q', '-f', 'qcow2', ...(backing ? ['-b', backing, '-F', 'raw'] : []), path, '1M'];
  execFileSync('qemu-img', args);
  return readFileSync(path);
}

/** A raw disk of `sectors` sectors with an MBR boot signature. */
export function rawDisk(sectors = 8): Buffer {
  const b = Buffer.alloc(512 * sectors);
  b[510] = 0x55;
  b[511] = 0xaa;
  return b;
}

/** A tar (gzip with `gz`) of `files` made by GNU tar, members named as given. */
export function tarOf(dir: string, files: Record<string, string | Buffer>, gz = false): Buffer {
  const src = join(dir, `src-${Object.keys(files).length}-${Date.now()}`);
  mkdirSync(src, { recursive: true });
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(src, name, '..'), { recursive: true });
    writeFileSync(join(src, name), content);
  }
  const out = join(dir, `out-${Date.now()}.tar`);
  execFileSync('tar', [gz ? '-czf' : '-cf', out, '-C', src, ...Object.keys(files)]);
  return readFileSync(out);
}

/** PUT /v1/images/{name} with the bytes as application/octet-stream. */
export function putImage(
  t: TestApp,
  name: string,
  body: Buffer,
  headers: Record<string, string> = {},
  role: TestRole = 'admin',
): request.Test {
  const req = request(t.app.getHttpServer())
    .put(`/v1/images/${name}`)
    .set('Authorization', `Bearer ${TOKENS[role]}`)
    .set('Content-Type', 'application/octet-stream');
  for (const [k, v] of Object.entries(headers)) req.set(k, v);
  return req.send(body);
}

/** A real OpenSSH ed25519 public key line (the blob built from a fresh key pair). */
export function sshEd25519(comment = 'test@virtledger'): string {
  const { publicKey } = generateKeyPairSync('ed25519');
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
  const str = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  return `ssh-ed25519 ${Buffer.concat([str(Buffer.from('ssh-ed25519')), str(raw)]).toString('base64')} ${comment}`;
}
