/** `virtledger queue results|dead-results|retry-result|discard-result`: the results stream workers post to. */
import type { Command } from 'commander';
import type { DeadResult, ResultCounts } from '../application/jobs.js';
import { getJson } from './client.js';
import { printFields, printList, reasonQuery, send, serverCommand, withReason, type Opts } from './command-kit.js';
import { out } from './output.js';

type Action = { action: string; result: DeadResult };

/** Not recorded in the event log (a result is no aggregate's): the server logs it with who acted. */
const reason = (c: Command) => c.option('--reason <text>', "why (in the server's log with who acted)");

export function registerQueueResultCommands(queue: Command): void {
  serverCommand(
    queue,
    'results',
    'results workers posted: pending, waiting and dead-lettered',
  )(async (base, opts) => {
    const c = await getJson<ResultCounts>(base, '/v1/queues/results');
    if (opts.json) out(JSON.stringify(c));
    else
      printFields([
        ['pending', c.pending],
        ['waiting', c.waiting],
        ['deadLettered', c.deadLettered],
      ]);
  });
  serverCommand(queue, 'dead-results', 'results the control plane gave up recording, with the last reason', (c) =>
    c.option('--limit <n>', 'at most this many (default 50)'),
  )(async (base, opts) => {
    const q = typeof opts.limit === 'string' ? `?limit=${encodeURIComponent(opts.limit)}` : '';
    const page = await getJson<{ items: DeadResult[] }>(base, `/v1/queues/results/dead${q}`);
    printList(opts, page, ['ID', 'KIND', 'STEP', 'OPERATION', 'HOST', 'DELIVERIES', 'DEAD AT', 'REASON'], (r) => [
      r.id,
      r.kind ?? '-',
      r.step ?? '-',
      r.operationId ?? '-',
      r.hostId ?? '-',
      r.deliveries === null ? '-' : String(r.deliveries),
      r.deadAt,
      r.reason,
    ]);
  });
  const path = (id: string) => `/v1/queues/results/dead/${encodeURIComponent(id)}`;
  const done = (opts: Opts, body: Action) =>
    out(opts.json ? JSON.stringify(body) : `result ${body.result.id} ${body.action}`);
  serverCommand(
    queue,
    'retry-result <id>',
    'put a dead-lettered result back to be recorded (a result already recorded records nothing)',
    reason,
  )(async (base, opts, id) => {
    done(opts, (await send<Action>(base, 'POST', `${path(id!)}/retry`, withReason({}, opts))).body);
  });
  serverCommand(
    queue,
    'discard-result <id>',
    'delete a dead-lettered result for good',
    reason,
  )(async (base, opts, id) => {
    done(opts, (await send<Action>(base, 'DELETE', path(id!) + reasonQuery(opts))).body);
  });
}
