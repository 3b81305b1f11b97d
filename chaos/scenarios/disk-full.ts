/**
 * Fault 6: DATA_DIR on a small tmpfs that fills up while users send commands.
 * A command that cannot be recorded gets a 503 saying the disk is full (and
 * records nothing); the SQLite file still opens, passes integrity_check and
 * its hash chain verifies; everything works again once space returns.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { Cluster } from '../support/cluster.js';
import { Operations } from '../support/operations.js';
import { commandsThroughOutage } from '../support/outage.js';
import { SmallDisk } from '../support/small-disk.js';
import { verdict, type ScenarioRow } from '../support/verdict.js';
import { createVms } from '../support/workload.js';

export async function runDiskFull(fullMs: number, vms: number): Promise<ScenarioRow> {
  const disk = SmallDisk.mount(48);
  const c = await Cluster.start({ name: 'disk-full', dataDir: disk.dir });
  let keep = false;
  try {
    const uri = 'simulated://?latencyMs=100';
    const { hostId, hosts } = await c.startWithHost('sim', 'simulated', uri);
    const ops = new Operations(c.client, new Set([409, 503, 507]));
    const vmIds = await createVms(
      ops,
      Array.from({ length: vms }, (_, i) => ({ name: `df-${i}`, hostId })),
      60000,
    );
    let filled = 0;
    const out = await commandsThroughOutage(c.client, ops, vmIds, {
      outageMs: fullMs,
      hostId,
      seed: 29,
      expectMessage: /disk is full/,
      cut: async () => {
        filled = disk.fill();
      },
      restore: async () => disk.free(),
    });
    const problems = [...out.problems];
    if (out.refusedDuringOutage === 0) problems.push('no command was refused while the disk was full');
    await ops.waitAll(120000);
    const file = join(disk.dir, 'events.sqlite3');
    const db = new Database(file, { readonly: true });
    try {
      const check = db.pragma('integrity_check', { simple: true });
      if (check !== 'ok') problems.push(`SQLite integrity_check: ${String(check)}`);
    } finally {
      db.close();
    }
    const row = await verdict({
      fault: 'disk full on DATA_DIR',
      injected: 1,
      cluster: c,
      ops,
      hosts,
      problems,
      strictAnswers: true,
      notes: [
        `${fullMs / 1000} s full (${(filled / 1048576).toFixed(1)} MiB filler): ${out.refusedDuringOutage} refused, ${out.acceptedDuringOutage}×202; integrity_check ok`,
      ],
    });
    keep = row.problems.length > 0;
    return row;
  } finally {
    await c.close(keep);
    disk.unmount();
  }
}

export async function run(opts: { quick?: boolean }): Promise<ScenarioRow> {
  return opts.quick ? runDiskFull(4000, 2) : runDiskFull(10000, 6);
}
