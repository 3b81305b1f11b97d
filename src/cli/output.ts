/** What the commands print: plain lines, aligned tables, values as a human reads them. */

/**
 * `virtledger … | head` closes the pipe early: the next write fails with EPIPE,
 * which Node raises as an unhandled 'error' event and prints as a stack. The
 * reader has all it wanted, so stop quietly, as `cat` does.
 */
export function quietOnClosedPipe(stream: NodeJS.WriteStream = process.stdout): void {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    // A pipeline writing to stdout (audit export) handles its own failures and reports
    // them with its exit code; anything no one else listens for stays loud.
    if (stream.listenerCount('error') <= 1) throw err;
  });
}

export function out(line: string): void {
  process.stdout.write(line + '\n');
}

/** Left-aligned columns, two spaces apart; the first row is the header. */
export function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
}

export function printTable(rows: string[][]): void {
  for (const line of table(rows)) out(line);
}

/** null and absent as "-", strings bare, anything else as compact JSON. */
export function show(v: unknown): string {
  if (v === null || v === undefined) return '-';
  return typeof v === 'string' ? v : JSON.stringify(v);
}
