#!/usr/bin/env node
/**
 * virtledger CLI (auditors): `audit verify <file>` (offline), `audit verify --server`,
 * `audit log`. Exit codes: 0 ok, 1 the chain is broken, 2 usage/connection/auth errors.
 */
import { Command, CommanderError } from 'commander';
import { CliError, getJson, resolveServer } from './client.js';
import { registerImportCommand } from './import-export.js';
import { ExportFormatError, verifyExportFile, type OfflineReport } from './verify-export.js';

interface VerifyReport {
  verified: boolean;
  count?: number;
  streams?: number;
  firstBreak: null | { streamId: string; revision: number; expected: string; found: string };
}

interface EventItem {
  position: string;
  streamId: string;
  revision: number;
  type: string;
  metadata: { principal: string; correlationId: string; at: string };
}

function out(line: string): void {
  process.stdout.write(line + '\n');
}

function printVerify(r: VerifyReport | OfflineReport, json: boolean): void {
  if (json) out(JSON.stringify(r));
  else if (r.verified) out(`verified ${r.count ?? 0} events in ${r.streams ?? 0} streams`);
  else {
    const b = r.firstBreak!;
    out(`BROKEN at ${b.streamId} revision ${b.revision}: expected ${b.expected} found ${b.found}`);
  }
  process.exitCode = r.verified ? 0 : 1;
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
}

export function buildProgram(): Command {
  const program = new Command('virtledger').description('virtledger command line').exitOverride();
  const audit = program.command('audit').description('auditor tools: the log and its hash chain');
  registerImportCommand(audit);

  audit
    .command('verify')
    .description('verify an NDJSON export offline (<file>), or ask a server (--server) to verify its log')
    .argument('[file]', 'an export from GET /v1/audit/export')
    .option('--server <url>', 'server URL (or VIRTLEDGER_URL)')
    .option('--token <token>', 'bearer token (or VIRTLEDGER_TOKEN)')
    .option('--vm <id>', 'verify one VM stream only (server mode)')
    .option('--json', 'machine-readable output')
    .action(
      async (file: string | undefined, opts: { server?: string; token?: string; vm?: string; json?: boolean }) => {
        if (file !== undefined) {
          if (opts.server) throw new CliError('give either a file or --server, not both');
          let report: OfflineReport;
          try {
            report = await verifyExportFile(file);
          } catch (err) {
            if (err instanceof ExportFormatError) throw new CliError(`${file}: ${err.message}`);
            const code = (err as NodeJS.ErrnoException).code;
            throw new CliError(`cannot read ${file}: ${code ?? (err as Error).message}`);
          }
          printVerify(report, !!opts.json);
          return;
        }
        if (!opts.server && !process.env.VIRTLEDGER_URL)
          throw new CliError('give an export file, or --server <url> (or VIRTLEDGER_URL)');
        const base = resolveServer(opts);
        const q = opts.vm ? `?vmId=${encodeURIComponent(opts.vm)}` : '';
        printVerify(await getJson<VerifyReport>(base, `/v1/audit/verify${q}`), !!opts.json);
      },
    );

  audit
    .command('log')
    .description('print the event log (oldest first)')
    .option('--server <url>', 'server URL (or VIRTLEDGER_URL)')
    .option('--token <token>', 'bearer token (or VIRTLEDGER_TOKEN)')
    .option('--vm <id>', 'only this VM')
    .option('--type <types>', 'only these event types (comma list)')
    .option('--limit <n>', 'at most this many events', '1000')
    .option('--json', 'NDJSON output, one event per line')
    .action(
      async (opts: { server?: string; token?: string; vm?: string; type?: string; limit: string; json?: boolean }) => {
        const base = resolveServer(opts);
        const max = Number(opts.limit);
        if (!Number.isSafeInteger(max) || max < 1) throw new CliError('--limit must be a positive integer');
        const items: EventItem[] = [];
        let next: string | null = '0';
        while (next !== null && items.length < max) {
          const q = new URLSearchParams({ fromPosition: next, limit: String(Math.min(1000, max - items.length)) });
          if (opts.vm) q.set('vmId', opts.vm);
          if (opts.type) q.set('type', opts.type);
          const page: { items: EventItem[]; next: string | null } = await getJson(base, `/v1/events?${q}`);
          items.push(...page.items);
          next = page.next;
        }
        if (opts.json) {
          for (const e of items) out(JSON.stringify(e));
          return;
        }
        const rows = [['POSITION', 'AT', 'STREAM', 'REV', 'TYPE', 'PRINCIPAL', 'CORRELATION']];
        for (const e of items) {
          rows.push([
            e.position,
            e.metadata.at,
            e.streamId,
            String(e.revision),
            e.type,
            e.metadata.principal,
            e.metadata.correlationId,
          ]);
        }
        for (const line of table(rows)) out(line);
      },
    );
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof CliError) {
      process.stderr.write(`virtledger: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`virtledger: ${(err as Error).stack ?? String(err)}\n`);
    return 2;
  }
}

process.exitCode = await main(process.argv);
