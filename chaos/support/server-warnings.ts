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

/**
 * When the server logged `msg` (pino's `time`, epoch ms), each placed against the spans given (`[from, to]`,
 * epoch ms, e.g. the heap samples that stop its loop): "31.2 s (in heap sample 1)" with `zero` as 0 s. Tells a
 * lease lost to the checker's own pauses from one lost under the load.
 */
export function warningTimes(
  output: string,
  msg: string,
  zero: number,
  spans: ReadonlyArray<readonly [number, number]>,
): string[] {
  const out: string[] = [];
  for (const line of output.split('\n')) {
    if (!line.startsWith('{') || !line.includes(msg)) continue;
    let entry: { msg?: unknown; time?: unknown };
    try {
      entry = JSON.parse(line) as { msg?: unknown; time?: unknown };
    } catch {
      continue;
    }
    if (entry.msg !== msg || typeof entry.time !== 'number') continue;
    const t = entry.time;
    const inSpan = spans.findIndex(([from, to]) => t >= from && t <= to);
    out.push(`${((t - zero) / 1000).toFixed(1)} s${inSpan >= 0 ? ` (in heap sample ${inSpan + 1})` : ''}`);
  }
  return out;
}
