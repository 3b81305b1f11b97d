import type { Command } from 'commander';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CliError, EXIT_NOT_FOUND, resolveServer, type Server } from './client.js';
import { out } from './output.js';
import { withServer, type ServerCommandOptions } from './server-options.js';

/** The files of a kernel bundle, as scripts/build-guest.sh writes them (initrd.gz and cmdline optional). */
const BUNDLE = ['vmlinuz', 'initrd.gz', 'cmdline'];

/** A directory becomes a kernel bundle tar (gzip); a file is sent as it is. */
function bytesToSend(path: string, scratch: string): string {
  if (!existsSync(path)) throw new CliError(`${path}: no such file or directory`);
  if (!statSync(path).isDirectory()) return path;
  if (!existsSync(join(path, 'vmlinuz')))
    throw new CliError(
      `${path} has no vmlinuz: a directory is imported as a kernel bundle (vmlinuz, initrd.gz, cmdline)`,
    );
  const tar = join(scratch, 'bundle.tar.gz');
  execFileSync('tar', ['-C', path, '-czf', tar, ...BUNDLE.filter((f) => existsSync(join(path, f)))]);
  return tar;
}

function put(base: Server, name: string, file: string, ifAbsent: boolean): Promise<{ status: number; body: string }> {
  const sha256 = createHash('sha256').update(readFileSync(file)).digest('hex');
  const url = new URL(`${base.url}/v1/images/${encodeURIComponent(name)}`);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      url,
      {
        method: 'PUT',
        headers: {
          Authorization: `Bearer ${base.token}`,
          'Content-Type': 'application/octet-stream',
          'Content-Length': String(statSync(file).size),
          'X-Checksum-Sha256': sha256,
          ...(ifAbsent ? { 'If-None-Match': '*' } : {}),
        },
      },
      (res: IncomingMessage) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', (err) => reject(new CliError(`cannot reach ${base.url}: ${err.message}`)));
    createReadStream(file).pipe(req);
  });
}

/**
 * `image import <name> <path>`: uploads a file (qcow2, raw disk, tar) or a directory made by
 * scripts/build-guest.sh (sent as a kernel bundle) with its sha256, and prints the image.
 */
export function registerImageImport(image: Command): void {
  withServer(
    image
      .command('import')
      .description('upload an image to the catalog: a qcow2/raw/tar file, or a build-guest.sh output directory')
      .argument('<name>', 'image name')
      .argument('<path>', 'file, or directory with vmlinuz [initrd.gz] [cmdline]')
      .option('--if-absent', 'refuse to replace an existing image (If-None-Match: *)'),
  ).action(async (name: string, path: string, opts: ServerCommandOptions & { ifAbsent?: boolean }) => {
    const base = resolveServer(opts);
    const scratch = mkdtempSync(join(tmpdir(), 'virtledger-import-'));
    try {
      const res = await put(base, name, bytesToSend(path, scratch), opts.ifAbsent ?? false);
      let parsed: { message?: string; format?: string; sha256?: string; sizeBytes?: number } = {};
      try {
        parsed = JSON.parse(res.body) as typeof parsed;
      } catch {
        // not JSON: the status says it
      }
      if (res.status === 404) throw new CliError(`not found (404): ${parsed.message ?? ''}`, EXIT_NOT_FOUND);
      if (res.status < 200 || res.status >= 300)
        throw new CliError(`image ${name} refused (${res.status})${parsed.message ? `: ${parsed.message}` : ''}`);
      out(opts.json ? res.body : `${name}: ${parsed.format} ${parsed.sizeBytes} bytes sha256 ${parsed.sha256}`);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });
}
