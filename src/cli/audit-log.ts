import type { Command } from 'commander';
import { CliError, getJson, resolveServer } from './client.js';
import type { EventItem, EventPage } from './event-row.js';
import { followEvents } from './audit-follow.js';
import { out, printTable } from './output.js';
import { withServer, type ServerCommandOptions } from './server-options.js';

/** `audit log`: the global log, oldest first, filtered by VM and type. */
export function registerAuditLog(audit: Command): void {
  withServer(
    audit
      .command('log')
      .description('print the event log (oldest first)')
      .option('--vm <id>', 'only this VM')
      .option('--type <types>', 'only these event types (comma list)')
      .option('--limit <n>', 'at most this many events', '1000')
      .option('--follow', 'stream the log as it grows (from the start, or --from end), until interrupted')
      .option('--from <position>', "with --follow: the first position, or 'end' for only new events", '0'),
    'NDJSON output, one event per line',
  ).action(
    async (
      opts: ServerCommandOptions & { vm?: string; type?: string; limit: string; follow?: boolean; from: string },
    ) => {
      if (opts.follow) {
        if (opts.from !== 'end' && !/^\d{1,20}$/.test(opts.from))
          throw new CliError(`--from must be a position or 'end', got "${opts.from}"`);
        return followEvents(resolveServer(opts), { vm: opts.vm, type: opts.type, from: opts.from }, !!opts.json);
      }
      const max = Number(opts.limit);
      if (!/^\d+$/.test(opts.limit) || !Number.isSafeInteger(max) || max < 1)
        throw new CliError('--limit must be a positive integer');
      const base = resolveServer(opts);
      const items: EventItem[] = [];
      let next: string | null = '0';
      while (next !== null && items.length < max) {
        const q = new URLSearchParams({ fromPosition: next, limit: String(Math.min(1000, max - items.length)) });
        if (opts.vm) q.set('vmId', opts.vm);
        if (opts.type) q.set('type', opts.type);
        const page: EventPage = await getJson(base, `/v1/events?${q}`);
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
      printTable(rows);
    },
  );
}
