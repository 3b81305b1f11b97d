/** `virtledger placement-group ls|show|create|rm`: affinity rules VMs join with `vm create --placement-group`. */
import type { Command } from 'commander';
import type { PlacementGroupView } from '../modules/placement-groups/placement-group.view.js';
import { CliError, getJson, send } from './client.js';
import { printFields, printList, reasonOption, reasonQuery, serverCommand, withReason } from './command-kit.js';
import { out, printTable } from './output.js';

const id = (s: string) => encodeURIComponent(s);
const POLICIES = ['affinity', 'anti-affinity'];
const rule = (g: PlacementGroupView) => `${g.policy} (${g.strict ? 'strict' : 'soft'})`;

function showGroup(opts: { json?: boolean }, g: PlacementGroupView): void {
  if (opts.json) return out(JSON.stringify(g));
  printFields([
    ['id', g.id],
    ['name', g.name],
    ['policy', rule(g)],
    ['project', g.project],
    ['members', g.members.length],
    ['created', g.createdAt],
    ['deleted', g.deleted ? 'yes' : 'no'],
  ]);
  if (g.members.length) {
    out('');
    printTable([['VM', 'NAME', 'HOSTS'], ...g.members.map((m) => [m.vmId, m.name, m.hostIds.join(',')])]);
  }
}

export function registerPlacementGroupCommands(program: Command): void {
  const group = program
    .command('placement-group')
    .description('placement groups: keep VMs on one host (affinity) or apart (anti-affinity)');

  serverCommand(group, 'ls', "list your projects' placement groups", (c) => c.alias('list'))(async (base, opts) => {
    const page = await getJson<{ items: PlacementGroupView[] }>(base, '/v1/placement-groups');
    printList(opts, page, ['ID', 'NAME', 'POLICY', 'MEMBERS', 'PROJECT'], (g) => [
      g.id,
      g.name,
      rule(g),
      String(g.members.length),
      g.project,
    ]);
  });

  serverCommand(
    group,
    'show <id>',
    'one placement group with its members and where they run',
  )(async (base, opts, groupId) => {
    showGroup(opts, await getJson<PlacementGroupView>(base, `/v1/placement-groups/${id(groupId!)}`));
  });

  serverCommand(group, 'create <name>', 'create a placement group (soft unless --strict)', (c) =>
    reasonOption(
      c
        .requiredOption('--policy <policy>', 'affinity (one host) or anti-affinity (a host each)')
        .option('--strict', 'never broken: a VM that cannot keep it is refused')
        .option('--project <name>', 'the project of the group and its members'),
    ),
  )(async (base, opts, name) => {
    if (!POLICIES.includes(String(opts.policy)))
      throw new CliError(`--policy must be affinity or anti-affinity, got "${String(opts.policy)}"`);
    const body = withReason(
      { name, policy: opts.policy, strict: opts.strict === true, ...(opts.project ? { project: opts.project } : {}) },
      opts,
    );
    const g = (await send<PlacementGroupView>(base, 'POST', '/v1/placement-groups', body)).body;
    if (opts.json) return out(JSON.stringify(g));
    out(`placement group ${g.name} created: ${g.id} (${rule(g)})`);
  });

  serverCommand(group, 'rm <id>', 'delete a placement group without members', (c) => reasonOption(c.alias('delete')))(
    async (base, opts, groupId) => {
      const g = (
        await send<PlacementGroupView>(base, 'DELETE', `/v1/placement-groups/${id(groupId!)}${reasonQuery(opts)}`)
      ).body;
      if (opts.json) return out(JSON.stringify(g));
      out(`placement group ${g.name} removed`);
    },
  );
}
