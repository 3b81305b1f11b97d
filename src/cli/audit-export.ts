import { createWriteStream } from 'node:fs';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { Command } from 'commander';
import { CliError, failure, request, resolveServer } from './client.js';
import { out } from './output.js';
import { withServer, type ServerCommandOptions } from './server-options.js';

interface ExportOptions extends ServerCommandOptions {
  out?: string;
  vm?: string;
  fromPosition?: string;
  toPosition?: string;
}

/** Counts what passes through: NDJSON lines, bytes, and whether the last line was finished. */
class Counter extends Transform {
  lines = 0;
  bytes = 0;
  lastByte = 0x0a;

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null, data?: Buffer) => void): void {
    this.bytes += chunk.length;
    for (const b of chunk) if (b === 0x0a) this.lines++;
    if (chunk.length) this.lastByte = chunk[chunk.length - 1]!;
    done(null, chunk);
  }
}

function position(raw: string | undefined, flag: string): string | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d{1,20}$/.test(raw)) throw new CliError(`${flag} must be a non-negative integer position`);
  return raw;
}

/**
 * `audit export`: GET /v1/audit/export (NDJSON with the hash chain) to stdout or
 * to --out. A file is written beside the target and renamed when the export is
 * complete, so a cut-off export never passes for a whole one.
 */
export function registerAuditExport(audit: Command): void {
  withServer(
    audit
      .command('export')
      .description('export the log as NDJSON with its hash chain (for `audit verify <file>`)')
      .option('--out <file>', 'write to this file (default: stdout)')
      .option('--vm <id>', 'only this VM')
      .option('--from-position <n>', 'first global position (inclusive)')
      .option('--to-position <n>', 'last global position (inclusive)'),
    'with --out, print the summary as JSON (the export itself is NDJSON either way)',
  ).action(async (opts: ExportOptions) => {
    const q = new URLSearchParams();
    const from = position(opts.fromPosition, '--from-position');
    const to = position(opts.toPosition, '--to-position');
    if (from !== undefined && to !== undefined && BigInt(from) > BigInt(to))
      throw new CliError('--from-position must not be after --to-position');
    if (opts.vm) q.set('vmId', opts.vm);
    if (from !== undefined) q.set('fromPosition', from);
    if (to !== undefined) q.set('toPosition', to);
    const base = resolveServer(opts);
    const path = `/v1/audit/export${q.size ? `?${q}` : ''}`;
    const partial = opts.out === undefined ? undefined : `${opts.out}.partial`;
    // Open the file first: a bad --out is said before the server is asked anything.
    let file: FileHandle | undefined;
    if (partial) {
      try {
        file = await open(partial, 'w');
      } catch (err) {
        throw new CliError(
          `cannot write ${opts.out}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        );
      }
    }
    const counter = new Counter();
    const cutOff = (err: unknown) =>
      new CliError(
        `the export from ${base.url} was cut off after ${counter.lines} events` +
          (err ? `: ${(err as Error).message}` : ''),
      );
    try {
      const res = await request(base, path, 'application/x-ndjson');
      if (!res.ok) throw await failure(base, path, res);
      if (!res.body) throw new CliError(`${base.url}/v1/audit/export answered no body`);
      const source = Readable.fromWeb(res.body as WebReadableStream<Uint8Array>);
      try {
        await pipeline(source, counter, file ? createWriteStream('', { fd: file }) : process.stdout);
      } catch (err) {
        // A reader that stops early (`| head`) is not an error of ours.
        if (!file && (err as NodeJS.ErrnoException).code === 'EPIPE') return;
        throw cutOff(err);
      }
      if (counter.lastByte !== 0x0a) throw cutOff(undefined);
      if (partial) await rename(partial, opts.out!);
    } catch (err) {
      if (partial) {
        await file?.close().catch(() => undefined);
        await rm(partial, { force: true });
      }
      throw err;
    }
    if (!opts.out) return;
    const summary = { out: opts.out, events: counter.lines, bytes: counter.bytes };
    out(opts.json ? JSON.stringify(summary) : `exported ${summary.events} events to ${summary.out}`);
  });
}
