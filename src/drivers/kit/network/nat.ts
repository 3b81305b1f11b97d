import { writeFileSync } from 'node:fs';
import { runTool } from '../run-tool.js';

/**
 * A network's NAT: one nftables table per network holding one masquerade rule for traffic from
 * the network's CIDR leaving through any interface but its bridge. Loaded from a file in one
 * transaction (create, flush by delete, recreate), so a rerun never doubles the rule.
 */
export async function ensureNat(o: { table: string; cidr: string; bridge: string; file: string }): Promise<void> {
  writeFileSync(
    o.file,
    [
      `table inet ${o.table} {}`,
      `delete table inet ${o.table}`,
      `table inet ${o.table} {`,
      `  chain postrouting {`,
      `    type nat hook postrouting priority srcnat; policy accept;`,
      `    ip saddr ${o.cidr} oifname != "${o.bridge}" masquerade`,
      `  }`,
      `}`,
      '',
    ].join('\n'),
    { mode: 0o644 },
  );
  await runTool('nft', ['-f', o.file], { timeoutMs: 10_000 });
  // Routing between the bridge and the uplink is what NAT is for; the switch is per network namespace.
  writeFileSync('/proc/sys/net/ipv4/ip_forward', '1');
}

export async function removeNat(table: string): Promise<void> {
  if (!(await natTables()).includes(table)) return;
  await runTool('nft', ['delete', 'table', 'inet', table], { timeoutMs: 10_000 });
}

/** Names of the inet tables in this network namespace. */
export async function natTables(): Promise<string[]> {
  const out = await runTool('nft', ['-j', 'list', 'tables', 'inet'], { timeoutMs: 10_000 });
  const parsed = JSON.parse(out) as { nftables?: { table?: { name: string } }[] };
  return (parsed.nftables ?? []).flatMap((e) => (e.table ? [e.table.name] : []));
}
