import { UnavailableError } from '../errors.js';

function sqliteCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined;
  const code = (err as { code: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/** Another connection holds the lock: worth retrying until the busy budget runs out. */
export function isSqliteBusy(err: unknown): boolean {
  const code = sqliteCode(err);
  return code !== undefined && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
}

const UNAVAILABLE_PREFIXES = [
  'SQLITE_BUSY',
  'SQLITE_LOCKED',
  'SQLITE_FULL',
  'SQLITE_IOERR',
  'SQLITE_CANTOPEN',
  'SQLITE_READONLY',
  'SQLITE_PROTOCOL',
  'SQLITE_NOLFS',
  'SQLITE_NOTADB',
  'SQLITE_CORRUPT',
];
const UNAVAILABLE_FS_CODES = ['ENOSPC', 'EACCES', 'EPERM', 'EROFS', 'EIO', 'EDQUOT'];

const HINTS: Array<[string, string]> = [
  ['SQLITE_BUSY', 'the database file is locked by another connection'],
  ['SQLITE_LOCKED', 'the database file is locked by another connection'],
  ['SQLITE_FULL', 'the disk is full'],
  ['SQLITE_IOERR', 'disk I/O error'],
  ['SQLITE_CANTOPEN', 'the database file cannot be opened'],
  ['SQLITE_READONLY', 'the database file is read-only'],
  ['SQLITE_NOTADB', 'the file is not a SQLite database'],
  ['SQLITE_CORRUPT', 'the database file is corrupt'],
  ['ENOSPC', 'the disk is full'],
];

/** Maps lock and disk failures to UnavailableError; anything else (constraint, bug) passes through. */
export function mapSqliteError(err: unknown, file: string): unknown {
  if (err instanceof UnavailableError) return err;
  const code = sqliteCode(err);
  if (code === undefined) return err;
  const unavailable = UNAVAILABLE_PREFIXES.some((p) => code.startsWith(p)) || UNAVAILABLE_FS_CODES.includes(code);
  if (!unavailable) return err;
  const hint = HINTS.find(([p]) => code.startsWith(p))?.[1] ?? 'storage error';
  const detail = err instanceof Error ? err.message : String(err);
  return new UnavailableError(`SQLite event store ${file} unavailable: ${hint} (${code}: ${detail})`, { cause: err });
}
