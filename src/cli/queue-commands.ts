/** `virtledger queue ls|show|retry|discard`: the hosts' job queues (operators, admins); results: see queue-result-commands. */
import type { Command } from 'commander';
import type { FailedJob } from '../application/jobs.js';
import { getJson } from './client.js';
import { printList, reasonOption, reasonQuery, send, serverCommand, withReason, type Opts } from './command-kit.js';
import { out } from './output.js';
import { registerQueueResultCommands } from './queue-result-commands.js';

type QueueRow = { hostId: string; hostName: string } & Record<string, number | string>;

export function registerQueueCommands(program: Command): void {
  const queue = program
    .command('queue')
    .description("the hosts' job queues (counts, failed jobs) and the results stream (counts, dead letters)");
  serverCommand(queue, 'ls', 'per host: waiting, active, delayed, failed jobs', (c) => c.alias('list'))(
    async (base, opts) => {
      const page = await getJson<{ items: QueueRow[] }>(base, '/v1/queues');
      printList(opts, page, ['HOST', 'NAME', 'WAITING', 'ACTIVE', 'DELAYED', 'FAILED', 'STALLED'], (q) => [
        q.hostId,
        q.hostName,
        String(q.waiting ?? 0),
        String(q.active ?? 0),
        String(q.delayed ?? 0),
        String(q.failed ?? 0),
        String(q.stalledRedeliveries ?? 0),
      ]);
    },
  );
  serverCommand(queue, 'show <host>', "a host queue's failed jobs with their error and attempts", (c) =>
    c.option('--limit <n>', 'at most this many (default 50)'),
  )(async (base, opts, host) => {
    const q = typeof opts.limit === 'string' ? `?limit=${encodeURIComponent(opts.limit)}` : '';
    const page = await getJson<{ items: FailedJob[] }>(base, `/v1/queues/${encodeURIComponent(host!)}/failed${q}`);
    printList(opts, page, ['JOB', 'STEP', 'OPERATION', 'ATTEMPTS', 'STALLED', 'FAILED AT', 'ERROR'], (j) => [
      j.id,
      j.step,
      j.operationId ?? '-',
      String(j.attempts),
      String(j.stalled),
      j.failedAt ?? '-',
      j.error,
    ]);
  });
  const path = (host: string, job: string) =>
    `/v1/queues/${encodeURIComponent(host)}/failed/${encodeURIComponent(job)}`;
  const done = (opts: Opts, body: { action: string; job: FailedJob }) =>
    out(opts.json ? JSON.stringify(body) : `job ${body.job.id} ${body.action}`);
  serverCommand(
    queue,
    'retry <host> <job>',
    'put a failed job back to waiting (recorded)',
    reasonOption,
  )(async (base, opts, host, job) => {
    const res = await send<{ action: string; job: FailedJob }>(
      base,
      'POST',
      `${path(host!, job!)}/retry`,
      withReason({}, opts),
    );
    done(opts, res.body);
  });
  serverCommand(
    queue,
    'discard <host> <job>',
    'give a failed job up: its operation fails (recorded)',
    reasonOption,
  )(async (base, opts, host, job) => {
    const res = await send<{ action: string; job: FailedJob }>(base, 'DELETE', path(host!, job!) + reasonQuery(opts));
    done(opts, res.body);
  });
  registerQueueResultCommands(queue);
}
