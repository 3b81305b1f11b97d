import type { Command } from 'commander';
import { CliError, getJson, resolveServer } from './client.js';
import { out } from './output.js';
import { withServer, type ServerCommandOptions } from './server-options.js';
import type { OfflineReport } from './verify-export.js';
import type { LogVerifyReport } from '../eventstore/seals/problems.js';
import { collectKeys } from './repeat-option.js';
// The verifiers (hashing, seals, crypto) load only when a file is verified: the other commands start without them.
const verifiers = async () => ({
  ...(await import('./verify-export.js')),
  ...(await import('../audit/verify-export-seals.js')),
  ...(await import('./seal-args.js')),
});

interface VerifyReport {
  verified: boolean;
  count?: number;
  streams?: number;
  firstBreak: null | { streamId: string; revision: number; expected: string; found: string };
  /** Whole-log reports of a server with seals. */
  problem?: LogVerifyReport['problem'];
  seals?: LogVerifyReport['seals'];
  unsealed?: number;
}

async function printVerify(r: VerifyReport | OfflineReport, json: boolean): Promise<void> {
  if (json) out(JSON.stringify(r));
  else if ('seals' in r && r.seals && (r.seals.total > 0 || r.problem))
    out((await import('./seal-args.js')).describeSealReport(r as LogVerifyReport));
  else if (r.verified) out(`verified ${r.count ?? 0} events in ${r.streams ?? 0} streams`);
  else {
    const b = r.firstBreak!;
    out(`BROKEN at ${b.streamId} revision ${b.revision}: expected ${b.expected} found ${b.found}`);
  }
  // 1, not 2: the tool worked and the answer is "tampered".
  process.exitCode = r.verified ? 0 : 1;
}

/** `audit verify <file>` (offline, no server) or `audit verify --server` (the server recomputes its chain). */
export function registerAuditVerify(audit: Command): void {
  withServer(
    audit
      .command('verify')
      .description('verify an NDJSON export offline (<file>), or ask a server (--server) to verify its log')
      .argument('[file]', 'an export from GET /v1/audit/export or `virtledger audit export`')
      .option('--vm <id>', 'verify one VM stream only (server mode)')
      .option(
        '--key <pub>',
        'offline: check the seals too, signed by this public key (file or base64; repeat for older keys)',
        collectKeys,
      )
      .option('--witness <file>', 'offline: the seal witness (SEAL_WITNESS_FILE) shipped out of the server'),
  ).action(
    async (
      file: string | undefined,
      opts: ServerCommandOptions & { vm?: string; key?: string[]; witness?: string },
    ) => {
      const {
        ExportFormatError,
        verifyExportFile,
        verifyExportWithSeals,
        describeSealReport,
        readKeyArg,
        readWitnessArg,
      } = file !== undefined ? await verifiers() : ({} as Awaited<ReturnType<typeof verifiers>>);
      if (file !== undefined && (opts.key || opts.witness)) {
        if (opts.server) throw new CliError('give either a file or --server, not both');
        if (!opts.key) throw new CliError('--witness needs --key: a witness line is only as good as its signature');
        const keys = opts.key.map(readKeyArg);
        const witness = opts.witness ? readWitnessArg(opts.witness) : undefined;
        let report: LogVerifyReport;
        try {
          report = await verifyExportWithSeals(file, { keys, ...(witness ? { witness } : {}) });
        } catch (err) {
          if (err instanceof ExportFormatError) throw new CliError(`${file}: ${err.message}`);
          const code = (err as NodeJS.ErrnoException).code;
          throw new CliError(`cannot read ${file}: ${code ?? (err as Error).message}`);
        }
        out(opts.json ? JSON.stringify(report) : describeSealReport(report));
        process.exitCode = report.verified ? 0 : 1;
        return;
      }
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
        await printVerify(report, !!opts.json);
        return;
      }
      if (!opts.server && !process.env.VIRTLEDGER_URL)
        throw new CliError('give an export file, or --server <url> (or VIRTLEDGER_URL)');
      const base = resolveServer(opts);
      const q = opts.vm ? `?vmId=${encodeURIComponent(opts.vm)}` : '';
      await printVerify(await getJson<VerifyReport>(base, `/v1/audit/verify${q}`), !!opts.json);
    },
  );
}
