import { readdirSync, statSync } from 'node:fs';

/** The entries of `dir`, or none when it is missing or unreadable (a host whose storage is not made yet). */
export function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

export function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
