/**
 * `--wait`: follow an operation until it is done, with the server's own
 * long-poll (`GET /v1/operations/{id}?waitMs=`), not a client-side timer.
 * On a terminal a progress bar on stderr redraws in place; otherwise one plain
 * line per change, so a log or CI output stays readable.
 */
import { ENDED_STATUSES, type OperationView } from '../projections/read-model.types.js';
import { CliError, EXIT_FAILED, getJson, type Server } from './client.js';

function describe(op: OperationView): string {
  const p = op.progress;
  const step = p?.step ? ` ${p.step}` : '';
  const pct = typeof p?.percent === 'number' ? ` ${Math.round(p.percent)}%` : '';
  return `${op.kind} ${op.id}: ${op.status}${step}${pct}`;
}

function bar(op: OperationView, width = 24): string {
  const pct = op.status === 'succeeded' ? 100 : Math.max(0, Math.min(100, op.progress?.percent ?? 0));
  const full = Math.round((pct / 100) * width);
  return `[${'#'.repeat(full)}${'-'.repeat(width - full)}] ${describe(op)}`;
}

/** Resolves with the finished operation; a failed or cancelled one throws (exit 1) with its error. */
export async function waitOperation(
  base: Server,
  id: string,
  stream: NodeJS.WriteStream = process.stderr,
): Promise<OperationView> {
  const tty = stream.isTTY === true;
  let last = '';
  for (;;) {
    const op = await getJson<OperationView>(base, `/v1/operations/${encodeURIComponent(id)}?waitMs=2000`);
    const line = tty ? bar(op) : describe(op);
    if (line !== last) {
      stream.write(tty ? `\r\x1b[2K${line}` : `${line}\n`);
      last = line;
    }
    if (ENDED_STATUSES.has(op.status)) {
      if (tty) stream.write('\n');
      if (op.status !== 'succeeded')
        throw new CliError(`operation ${op.id} ${op.status}${op.error ? `: ${op.error}` : ''}`, EXIT_FAILED);
      return op;
    }
  }
}
