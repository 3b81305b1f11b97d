import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { ImportReport } from '../audit/import-export.js';
import type { EventStore } from '../eventstore/event-store.port.js';
import { CliError } from './client.js';

/**
 * `--store` takes a file path (SQLite) or a store URL; a bare path is never taken for a URL.
 * The stores (pg, sqlite, kurrentdb clients) load only here: every other command starts without them.
 */
export async function storeFromArg(arg: string): Promise<EventStore> {
  const { createEventStore } = await import('../eventstore/create-event-store.js');
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(arg) && !/^(sqlite|postgres|postgresql):/i.test(arg))
    throw new CliError(`--store: only a SQLite file path, sqlite:<file> or postgres://… can be imported into`);
  const url = /^(sqlite|postgres|postgresql):/i.test(arg) ? arg : `sqlite:${resolve(arg)}`;
  try {
    return createEventStore(url, { dataDir: process.cwd() });
  } catch (err) {
    throw new CliError(`--store: ${(err as Error).message}`);
  }
}

function describeStore(store: EventStore, arg: string): string {
  // A PostgreSQL URL may carry a password: name the kind and schema only.
  if (store.kind !== 'postgres') return `${store.kind} store ${arg.replace(/^sqlite:/i, '')}`;
  const schema = new URL(arg).searchParams.get('schema');
  return `postgres store${schema ? ` (schema ${schema})` : ''}`;
}

/** `virtledger audit import <file> --store …`: offline, straight into an empty event store. */
export function registerImportCommand(audit: Command): void {
  audit
    .command('import')
    .description('import an NDJSON export into an empty event store (offline; the chain is verified first)')
    .argument('<file>', 'a whole export from GET /v1/audit/export')
    .requiredOption('--store <store>', 'SQLite file path, sqlite:<file>, or postgres://…[?schema=]')
    .option('--json', 'machine-readable output')
    .action(async (file: string, opts: { store: string; json?: boolean }) => {
      const { importExport, ImportRefusedError, ImportWriteError } = await import('../audit/import-export.js');
      const store = await storeFromArg(opts.store);
      const where = describeStore(store, opts.store);
      let report: ImportReport;
      try {
        report = await importExport(file, async () => {
          try {
            await store.init();
          } catch (err) {
            throw new CliError(`cannot open the ${where}: ${(err as Error).message}`);
          }
          return store;
        });
      } catch (err) {
        if (err instanceof CliError) throw err;
        if (err instanceof ImportRefusedError) throw new CliError(`${file}: ${err.message}`, err.chainBreak ? 1 : 2);
        if (err instanceof ImportWriteError) throw new CliError(err.message);
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR')
          throw new CliError(`cannot read ${file}: ${code}`);
        throw err;
      } finally {
        await store.close().catch(() => undefined);
      }
      process.stdout.write(
        opts.json
          ? JSON.stringify(report) + '\n'
          : `imported ${report.imported} events in ${report.streams} streams into the ${where}\n`,
      );
    });
}
