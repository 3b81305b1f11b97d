/**
 * `npm run chaos [-- --quick] [--only kill-worker,hang]`: runs every fault
 * and abuse scenario against real processes and prints one table. Exits
 * non-zero when anything was lost, duplicated or orphaned, an operation never
 * ended, or a scenario could not run.
 */
import { formatTable, isRed, type Row } from './support/table.js';
type Scenario = { run(opts: { quick?: boolean }): Promise<Row | Row[]> };

const SCENARIOS = [
  'kill-worker',
  'host-dies-evacuating',
  'kill-api',
  'redis-outage',
  'store-outage',
  'hang',
  'disk-full',
  'fuzz',
  'load',
];

function parseArgs(argv: string[]): { quick: boolean; only: string[] | undefined } {
  let quick = false;
  let only: string[] | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--quick') quick = true;
    else if (a === '--only') only = (argv[++i] ?? '').split(',').filter(Boolean);
    else if (a.startsWith('--only=')) only = a.slice(7).split(',').filter(Boolean);
    else throw new Error(`unknown argument ${a} (use --quick, --only <names>)`);
  }
  const unknown = only?.filter((n) => !SCENARIOS.includes(n)) ?? [];
  if (unknown.length) throw new Error(`unknown scenario ${unknown.join(', ')} (known: ${SCENARIOS.join(', ')})`);
  return { quick, only };
}

function failedRow(name: string, why: string): Row {
  return {
    fault: name,
    injected: 0,
    opsStarted: 0,
    opsEnded: 0,
    eventsLost: 0,
    duplicates: 0,
    orphans: 0,
    notes: why,
    problems: [why],
  };
}

function isModuleMissing(err: unknown, name: string): boolean {
  const e = err as { code?: string; message?: string };
  return e?.code === 'ERR_MODULE_NOT_FOUND' && (e.message ?? '').includes(`scenarios/${name}.js`);
}

async function runOne(name: string, quick: boolean): Promise<{ rows: Row[]; present: boolean }> {
  let mod: Scenario;
  try {
    mod = (await import(`./scenarios/${name}.js`)) as Scenario;
  } catch (err) {
    if (isModuleMissing(err, name))
      return { rows: [{ ...failedRow(name, 'not present'), problems: [] }], present: false };
    return { rows: [failedRow(name, `cannot load: ${String(err)}`)], present: true };
  }
  const t0 = Date.now();
  try {
    const out = await mod.run({ quick });
    const rows = Array.isArray(out) ? out : [out];
    const secs = ((Date.now() - t0) / 1000).toFixed(0);
    return {
      rows: rows.map((r) => ({ ...r, notes: [r.notes, `scenario ${secs} s`].filter(Boolean).join('; ') })),
      present: true,
    };
  } catch (err) {
    return {
      rows: [failedRow(name, `crashed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)],
      present: true,
    };
  }
}

async function main(): Promise<void> {
  const { quick, only } = parseArgs(process.argv.slice(2));
  const rows: Row[] = [];
  for (const name of only ?? SCENARIOS) {
    process.stdout.write(`chaos: ${name}${quick ? ' (quick)' : ''}…\n`);
    const { rows: got } = await runOne(name, quick);
    for (const r of got) {
      rows.push(r);
      for (const p of r.problems ?? []) process.stdout.write(`  ✗ ${r.fault}: ${p}\n`);
    }
  }
  process.stdout.write(`\n${formatTable(rows)}\n`);
  const red = rows.filter(isRed);
  if (red.length) {
    process.stdout.write(`\n${red.length} scenario(s) red: ${red.map((r) => r.fault).join(', ')}\n`);
    process.exitCode = 1;
  }
}

main().then(
  () => process.exit(),
  (err: unknown) => {
    process.stderr.write(`chaos: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  },
);
