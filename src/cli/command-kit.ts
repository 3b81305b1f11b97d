/** What the daily commands share: server options, --wait, --reason, and "table or --json". */
import type { Command } from 'commander';
import { CliError, resolveServer, send, type Server } from './client.js';
import { out, printTable, show } from './output.js';
import { withServer, type ServerCommandOptions } from './server-options.js';
import { waitOperation } from './wait-operation.js';

export type Opts = ServerCommandOptions & { wait?: boolean; reason?: string } & Record<string, unknown>;

/** A command with --server/--token/--json whose action gets the resolved server. */
export function serverCommand(
  parent: Command,
  spec: string,
  description: string,
  configure: (c: Command) => Command = (c) => c,
): (run: (base: Server, opts: Opts, ...args: string[]) => Promise<void>) => Command {
  const cmd = configure(withServer(parent.command(spec).description(description)));
  return (run) =>
    cmd.action(async (...args: unknown[]) => {
      // commander passes the positional arguments, then the options, then the command.
      const positional = args.slice(0, -2) as string[];
      const opts = args[args.length - 2] as Opts;
      await run(resolveServer(opts), opts, ...positional);
    });
}

/** Commands that start an operation: --wait follows it, --reason is recorded with the event. */
export function operationOptions(c: Command): Command {
  return c
    .option('--wait', 'follow the operation until it is done (exit 1 if it fails)')
    .option('--reason <text>', 'why (recorded in the log)');
}

export function reasonOption(c: Command): Command {
  return c.option('--reason <text>', 'why (recorded in the log)');
}

/** `?reason=` for DELETEs, which carry no body. */
export function reasonQuery(opts: Opts): string {
  return opts.reason !== undefined ? `?reason=${encodeURIComponent(opts.reason)}` : '';
}

export function withReason(body: Record<string, unknown>, opts: Opts): Record<string, unknown> {
  return opts.reason !== undefined ? { ...body, reason: opts.reason } : body;
}

/**
 * A 202 names an operation: print it, or with --wait follow it to the end
 * (--json then prints the finished operation). A 200 means nothing was left
 * to do: the answer is printed as is.
 */
export async function accepted(
  base: Server,
  opts: Opts,
  answer: { status: number; body: unknown },
  render?: (body: unknown) => void,
): Promise<void> {
  const body = answer.body as { operationId?: string; vmId?: string } | null;
  const opId = answer.status === 202 ? body?.operationId : undefined;
  if (!opId) {
    if (opts.json || !render) out(JSON.stringify(answer.body));
    else render(answer.body);
    return;
  }
  if (!opts.wait) {
    if (opts.json) out(JSON.stringify(answer.body));
    else out(`operation ${opId} accepted${body?.vmId ? ` (vm ${body.vmId})` : ''}`);
    return;
  }
  const op = await waitOperation(base, opId);
  if (opts.json) out(JSON.stringify(op));
  else out(`operation ${op.id} ${op.status}${op.vmId ? ` (vm ${op.vmId})` : ''}`);
}

/** One object as FIELD / VALUE rows. */
export function printFields(rows: Array<[string, unknown]>): void {
  printTable([['FIELD', 'VALUE'], ...rows.map(([k, v]) => [k, show(v)])]);
}

/** A list: an aligned table, or with --json the API's answer as it came. */
export function printList<T>(opts: Opts, page: { items: T[] }, header: string[], row: (item: T) => string[]): void {
  if (opts.json) {
    out(JSON.stringify(page));
    return;
  }
  printTable([header, ...page.items.map(row)]);
}

export function intOption(name: string, raw: string | undefined, min = 0): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) < min)
    throw new CliError(`--${name} must be an integer ≥ ${min}, got "${raw}"`);
  return Number(raw);
}

export { send };
