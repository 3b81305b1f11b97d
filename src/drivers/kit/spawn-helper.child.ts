import { spawnDetached } from './spawn-detached.js';
import { isSpawnRequest, type HelperReady, type SpawnReply } from './spawn-helper.protocol.js';

/**
 * The spawn helper's own process (see spawn-helper.ts): a small Node process whose fork() is
 * cheap. It takes requests only on the IPC channel inherited from its parent, spawns each
 * program detached (no shell, argv as given) and answers with the pid. It ends when its parent
 * does (the channel closes); the programs it started keep running in their own sessions.
 */
const send = (m: SpawnReply | HelperReady): void => {
  process.send?.(m);
};

process.on('message', (m: unknown) => {
  if (!isSpawnRequest(m)) return; // nothing else is spoken on this channel
  try {
    send({ id: m.id, pid: spawnDetached(m.binary, m.args, m.logPath) });
  } catch (err) {
    send({ id: m.id, error: err instanceof Error ? err.message : String(err) });
  }
});
process.on('disconnect', () => process.exit(0));
send({ ready: true });
