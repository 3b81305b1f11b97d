import { execTool } from './exec-tool.js';
import { spawnDetached } from './spawn-detached.js';
import { isHelperRequest, type HelperReady, type HelperReply } from './spawn-helper.protocol.js';

/**
 * The spawn helper's own process (see spawn-helper.ts): a small Node process whose fork() is
 * cheap. It takes requests only on the IPC channel inherited from its parent, starts each
 * program (no shell, argv as given) and answers. It ends when its parent does (the channel
 * closes); the detached programs it started keep running in their own sessions.
 */
const send = (m: HelperReply | HelperReady): void => {
  process.send?.(m);
};
const runs = new Map<number, AbortController>();

process.on('message', (m: unknown) => {
  if (!isHelperRequest(m)) return; // nothing else is spoken on this channel
  if (m.kind === 'abort') {
    runs.get(m.id)?.abort();
  } else if (m.kind === 'run') {
    const abort = new AbortController();
    runs.set(m.id, abort);
    void execTool(m.file, m.args, { timeoutMs: m.timeoutMs, signal: abort.signal }).then((r) => {
      runs.delete(m.id);
      send({ id: m.id, ...r });
    });
  } else {
    try {
      send({ id: m.id, pid: spawnDetached(m.binary, m.args, m.logPath) });
    } catch (err) {
      send({ id: m.id, error: err instanceof Error ? err.message : String(err) });
    }
  }
});
process.on('disconnect', () => process.exit(0));
send({ ready: true });
