import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root (dist/chaos/support → ../../..), where better-sqlite3 resolves. */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..');

const SCRIPT = `
const Database = require('better-sqlite3');
const db = new Database(process.argv[1], { timeout: 60000 });
db.exec('BEGIN EXCLUSIVE');
process.stdout.write('locked\\n');
setInterval(() => {}, 1000);
`;

/**
 * Another process holding an exclusive write lock on the SQLite file (what a
 * backup tool or a stray sqlite3 shell does). Killing it releases the lock.
 */
export async function lockSqlite(file: string): Promise<{ release(): Promise<void> }> {
  const child: ChildProcess = spawn(process.execPath, ['-e', SCRIPT, file], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('the SQLite locker never took the lock')), 70000);
    child.stdout!.on('data', (b: Buffer) => {
      if (b.toString().includes('locked')) {
        clearTimeout(t);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`the SQLite locker exited (${code})`)));
  });
  return {
    release: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}
