import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { VmSpec } from '../hypervisor-driver.port.js';

/** The states a simulated domain can be in on disk. */
export type SimDomainState = 'running' | 'paused' | 'stopped' | 'crashed';

export interface SimSnapshot {
  name: string;
  memory: boolean;
  createdAt: string;
  /** The state a revert restores: running/paused for a memory snapshot, stopped for a disk-only one. */
  restores: 'running' | 'paused' | 'stopped';
}

/** A VM received by (or waiting for) a migration; it exists on the target but is not usable yet. */
export interface SimIncoming {
  token: string;
  live: boolean;
  /** True once the source has handed the domain over. */
  received: boolean;
  /** The source's storage directory, recorded at hand-off so an abort can tell whether a copy is still there. */
  from?: string;
}

export interface SimDomain {
  schema: 1;
  vmId: string;
  spec: VmSpec;
  state: SimDomainState;
  detail?: string;
  snapshots: SimSnapshot[];
  incoming?: SimIncoming;
  bootCount: number;
  updatedAt: string;
}

const SUFFIX = '.sim.json';
/** VM ids become file names: refuse anything that could escape the directory. */
const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function isSafeVmId(id: string): boolean {
  return SAFE_ID.test(id) && !id.includes('..');
}

let tmpCounter = 0;

/**
 * One JSON file per VM in a host's storage directory. Everything is
 * synchronous on purpose: a read-modify-write then runs without yielding to
 * the event loop, so two verbs on the same VM in one process cannot interleave
 * and no lock is needed. Writes are tmp + rename so a killed worker leaves
 * either the old or the new file, never half of one (no fsync: surviving a
 * power cut is not a goal of a simulation).
 */
export class DomainFileStore {
  constructor(readonly dir: string) {}

  path(vmId: string): string {
    return join(this.dir, vmId + SUFFIX);
  }

  read(vmId: string): SimDomain | undefined {
    let text: string;
    try {
      text = readFileSync(this.path(vmId), 'utf8');
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
    return JSON.parse(text) as SimDomain;
  }

  write(domain: SimDomain): void {
    mkdirSync(this.dir, { recursive: true });
    const target = this.path(domain.vmId);
    // Dot-prefixed and without the suffix, so listing never mistakes it for a domain.
    const tmp = join(this.dir, `.${domain.vmId}.${process.pid}.${++tmpCounter}.tmp`);
    writeFileSync(tmp, JSON.stringify(domain, null, 2) + '\n');
    renameSync(tmp, target);
  }

  remove(vmId: string): void {
    rmSync(this.path(vmId), { force: true });
  }

  list(): SimDomain[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch (err) {
      if (isNotFound(err)) return [];
      throw err;
    }
    const out: SimDomain[] = [];
    for (const name of names.sort()) {
      if (!name.endsWith(SUFFIX) || name.startsWith('.')) continue;
      // Removed between readdir and read by a concurrent destroy: not a domain any more.
      const d = this.read(name.slice(0, -SUFFIX.length));
      if (d) out.push(d);
    }
    return out;
  }
}

function isNotFound(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'ENOENT';
}
