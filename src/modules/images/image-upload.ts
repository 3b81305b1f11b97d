import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';

/** An upload on disk, not yet recorded: where it is, how big, its sha256 (hex). */
export interface ReceivedUpload {
  path: string;
  sizeBytes: number;
  sha256: string;
}

export class UploadTooLarge extends Error {
  override readonly name = 'UploadTooLarge';
  constructor(readonly maxBytes: number) {
    super(`image larger than IMAGE_MAX_BYTES (${maxBytes} bytes)`);
  }
}

export class UploadAborted extends Error {
  override readonly name = 'UploadAborted';
}

/**
 * Streams a request body into `<catalogDir>/.uploads/<uuid>`, hashing as it writes: never more
 * than one chunk in memory, stopped (and the partial file removed) the moment it passes
 * maxBytes or the client goes away. Backpressure: the request is paused while the disk catches up.
 */
export async function receiveUpload(body: Readable, catalogDir: string, maxBytes: number): Promise<ReceivedUpload> {
  const dir = join(catalogDir, '.uploads');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, randomUUID());
  const out = createWriteStream(path, { mode: 0o600 });
  const hash = createHash('sha256');
  let size = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      const fail = (err: Error) => {
        body.off('data', onData);
        body.pause();
        reject(err);
      };
      const onData = (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBytes) return fail(new UploadTooLarge(maxBytes));
        hash.update(chunk);
        if (!out.write(chunk)) {
          body.pause();
          out.once('drain', () => body.resume());
        }
      };
      body.on('data', onData);
      body.once('end', () => resolve());
      body.once('aborted', () => fail(new UploadAborted('the client closed the upload before its end')));
      body.once('error', fail);
      out.once('error', fail);
    });
    out.end();
    await finished(out);
    return { path, sizeBytes: size, sha256: hash.digest('hex') };
  } catch (err) {
    out.destroy();
    await rm(path, { force: true });
    throw err;
  }
}

/**
 * The sha256 a client says it sent, as lowercase hex, from `X-Checksum-Sha256` (hex or base64),
 * `Digest: sha-256=<base64>` (RFC 3230) or `Content-Digest: sha-256=:<base64>:` (RFC 9530).
 * Undefined when none is given; throws naming the header when one is given but unreadable.
 */
export function claimedSha256(
  headers: Record<string, string | string[] | undefined>,
): { header: string; hex: string } | undefined {
  const one = (name: string): string | undefined => {
    const v = headers[name];
    return Array.isArray(v) ? v.join(',') : v;
  };
  const fromBase64 = (header: string, b64: string): { header: string; hex: string } => {
    const buf = Buffer.from(b64, 'base64');
    if (buf.length !== 32 || !/^[A-Za-z0-9+/]+=*$/.test(b64))
      throw new BadChecksumHeader(header, 'is not a base64 sha-256');
    return { header, hex: buf.toString('hex') };
  };
  const x = one('x-checksum-sha256')?.trim();
  if (x !== undefined) {
    if (/^[0-9a-fA-F]{64}$/.test(x)) return { header: 'X-Checksum-Sha256', hex: x.toLowerCase() };
    return fromBase64('X-Checksum-Sha256', x);
  }
  const cd = one('content-digest');
  if (cd !== undefined) {
    const m = /(?:^|,)\s*sha-256=:([^:]*):/i.exec(cd);
    if (!m) throw new BadChecksumHeader('Content-Digest', 'has no sha-256=:<base64>: member');
    return fromBase64('Content-Digest', m[1]!);
  }
  const d = one('digest');
  if (d !== undefined) {
    const m = /(?:^|,)\s*sha-256=([^,\s]*)/i.exec(d);
    if (!m) throw new BadChecksumHeader('Digest', 'has no sha-256=<base64> member');
    return fromBase64('Digest', m[1]!);
  }
  return undefined;
}

export class BadChecksumHeader extends Error {
  override readonly name = 'BadChecksumHeader';
  constructor(
    readonly header: string,
    problem: string,
  ) {
    super(`${header} ${problem}`);
  }
}
