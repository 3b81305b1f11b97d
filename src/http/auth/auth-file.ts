import { readFileSync } from 'node:fs';
import { PROJECT_PATTERN } from '../../domain/patterns.js';
import { NAME_PATTERN } from '../../domain/patterns.js';
import type { Role } from './roles.js';

/** One AUTH_FILE user: the token itself is never stored, only its sha256 (hex). */
export interface UserEntry {
  name: string;
  role: Role;
  projects: string[] | 'all';
  tokenSha256: string;
}

const ROLES: readonly string[] = ['admin', 'operator', 'auditor', 'viewer'];

export class AuthFileError extends Error {
  override readonly name = 'AuthFileError';
}

/**
 * AUTH_FILE: `{"users": [{name, role, projects, tokenSha256}]}` (or the bare array).
 * `projects` is a list of project names or "all"; an admin always has "all", and an
 * auditor without `projects` too. Every problem is named with the user's index, and
 * the process refuses to start: a half-read users file would lock people out silently.
 */
export function readAuthFile(file: string): UserEntry[] {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new AuthFileError(`AUTH_FILE ${file}: cannot read it as JSON: ${(err as Error).message}`);
  }
  return parseUsers(raw, file);
}

export function parseUsers(raw: unknown, file: string): UserEntry[] {
  const list = Array.isArray(raw) ? raw : (raw as { users?: unknown } | null)?.users;
  if (!Array.isArray(list)) throw new AuthFileError(`AUTH_FILE ${file}: expected {"users": [...]} or an array`);
  const problems: string[] = [];
  const users: UserEntry[] = [];
  const seen = new Set<string>();
  list.forEach((u: unknown, i) => {
    const at = `users[${i}]`;
    if (typeof u !== 'object' || u === null) return problems.push(`${at}: must be an object`);
    const { name, role, projects, tokenSha256 } = u as Record<string, unknown>;
    const before = problems.length;
    if (typeof name !== 'string' || !NAME_PATTERN.test(name)) problems.push(`${at}.name: must be a user name`);
    else if (seen.has(name)) problems.push(`${at}.name: ${name} appears twice`);
    if (typeof role !== 'string' || !ROLES.includes(role))
      problems.push(`${at}.role: must be one of ${ROLES.join(', ')}`);
    if (typeof tokenSha256 !== 'string' || !/^[0-9a-f]{64}$/i.test(tokenSha256))
      problems.push(`${at}.tokenSha256: must be 64 hex digits (sha256 of the token)`);
    const all = projects === 'all' || role === 'admin' || (role === 'auditor' && projects === undefined);
    if (!all && (!Array.isArray(projects) || projects.some((p) => typeof p !== 'string' || !PROJECT_PATTERN.test(p))))
      problems.push(`${at}.projects: must be "all" or a list of project names`);
    if (problems.length > before) return;
    seen.add(name as string);
    users.push({
      name: name as string,
      role: role as Role,
      projects: all ? 'all' : [...new Set(projects as string[])],
      tokenSha256: (tokenSha256 as string).toLowerCase(),
    });
  });
  if (problems.length) throw new AuthFileError(`AUTH_FILE ${file}:\n  ${problems.join('\n  ')}`);
  return users;
}
