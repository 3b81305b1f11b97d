import type { ChaosRow } from '../chaos-row.js';

/** A row as scenarios return it; `problems` (when present) are the reasons it is red. */
export type Row = ChaosRow & { problems?: string[] };

/** A row is red when something was lost, doubled, orphaned, left unfinished, or a check failed. */
export function isRed(r: Row): boolean {
  return (
    r.eventsLost !== 0 ||
    r.duplicates !== 0 ||
    r.orphans !== 0 ||
    r.opsEnded !== r.opsStarted ||
    (r.problems?.length ?? 0) > 0
  );
}

export function formatTable(rows: Row[]): string {
  const head = ['fault', 'injected', 'ops started', 'ops ended', 'lost', 'duplicates', 'orphans', 'notes'];
  const body = rows.map((r) => [
    (isRed(r) ? '✗ ' : '✓ ') + r.fault,
    String(r.injected),
    String(r.opsStarted),
    String(r.opsEnded),
    String(r.eventsLost),
    String(r.duplicates),
    String(r.orphans),
    r.notes ?? '',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (i === 7 ? 0 : b[i]!.length))));
  const line = (cells: string[]) => '| ' + cells.map((c, i) => (i === 7 ? c : c.padEnd(widths[i]!))).join(' | ') + ' |';
  return [
    line(head),
    '|' + widths.map((w, i) => '-'.repeat(i === 7 ? 7 : w + 2)).join('|') + '|',
    ...body.map(line),
  ].join('\n');
}
