/** `virtledger network ls|show|create|rm`: the networks VMs' NICs get their addresses from. */
import type { Command } from 'commander';
import type { NetworkView } from '../modules/networks/network.view.js';
import { getJson, send } from './client.js';
import { printFields, printList, reasonOption, reasonQuery, serverCommand, withReason } from './command-kit.js';
import { out, printTable } from './output.js';

const id = (s: string) => encodeURIComponent(s);

function showNetwork(opts: { json?: boolean }, n: NetworkView): void {
  if (opts.json) return out(JSON.stringify(n));
  printFields([
    ['id', n.id],
    ['name', n.name],
    ['cidr', n.cidr],
    ['gateway', n.gateway],
    ['nat', n.nat ? 'yes' : 'no'],
    ['vni', n.vni],
    ['addresses', `${n.size - n.free}/${n.size} allocated`],
    ['revision', n.revision],
    ['created', n.createdAt],
    ['updated', n.updatedAt],
  ]);
  if (n.allocations.length) {
    out('');
    printTable([['VM', 'NIC', 'IP', 'MAC'], ...n.allocations.map((a) => [a.vmId, String(a.nicIndex), a.ip, a.mac])]);
  }
}

export function registerNetworkCommands(program: Command): void {
  const network = program.command('network').description('networks: address spaces for VM NICs (admin creates)');

  serverCommand(network, 'ls', 'list networks', (c) => c.alias('list').option('--limit <n>', 'page size'))(
    async (base, opts) => {
      const q = typeof opts.limit === 'string' ? `?limit=${encodeURIComponent(opts.limit)}` : '';
      const page = await getJson<{ items: NetworkView[] }>(base, `/v1/networks${q}`);
      printList(opts, page, ['ID', 'NAME', 'CIDR', 'GATEWAY', 'NAT', 'VNI', 'FREE'], (n) => [
        n.id,
        n.name,
        n.cidr,
        n.gateway,
        n.nat ? 'yes' : 'no',
        String(n.vni),
        `${n.free}/${n.size}`,
      ]);
    },
  );

  serverCommand(
    network,
    'show <id>',
    'one network with its allocations',
  )(async (base, opts, networkId) => {
    showNetwork(opts, await getJson<NetworkView>(base, `/v1/networks/${id(networkId!)}`));
  });

  serverCommand(
    network,
    'create <name> <cidr>',
    'create a network, e.g. `network create lan 10.20.0.0/24 --nat`',
    (c) => reasonOption(c.option('--nat', "masquerade its traffic to the host's uplink")),
  )(async (base, opts, name, cidr) => {
    const body = withReason({ name, cidr, nat: opts.nat === true }, opts);
    const n = (await send<NetworkView>(base, 'POST', '/v1/networks', body)).body;
    if (opts.json) return out(JSON.stringify(n));
    out(`network ${n.name} created: ${n.id} (${n.cidr}, gateway ${n.gateway}, vni ${n.vni})`);
  });

  serverCommand(network, 'rm <id>', 'delete a network no VM uses', (c) => reasonOption(c.alias('delete')))(
    async (base, opts, networkId) => {
      await send(base, 'DELETE', `/v1/networks/${id(networkId!)}${reasonQuery(opts)}`);
      if (!opts.json) out(`network ${networkId} removed`);
    },
  );
}
