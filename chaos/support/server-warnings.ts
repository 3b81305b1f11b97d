/**
 * What the server warned about during a run, by message: pino's JSON lines at warn (40) and
 * above, counted. A load that makes the server give up its control-plane lease, retry
 * projection writes or fail requests shows here, next to the latencies it explains.
 */
export function warningCounts(output: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    let entry: { level?: unknown; msg?: unknown };
    try {
      entry = JSON.parse(line) as { level?: unknown; msg?: unknown };
    } catch {
      continue; // a line the server cut short as it exited
    }
    if (typeof entry.level !== 'number' || entry.level < 40) continue;
    const msg = typeof entry.msg === 'string' ? entry.msg : '(no message)';
    counts[msg] = (counts[msg] ?? 0) + 1;
  }
  return counts;
}
