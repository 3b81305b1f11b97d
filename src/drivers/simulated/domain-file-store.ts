import { mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { VmSpec } from '../hypervisor-driver.port.js';
import { KeyedLock } from '../kit/keyed-lock.js';
import { createInPlace, isNotFound, readDomainText, sealText, writeInPlace } from './domain-file-io.js';

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

/** A domain just defined (or expected as a migration's target): stopped, never booted, no snapshots. */
export function newDomain(spec: VmSpec, incoming?: SimIncoming): SimDomain {
  return {
    schema: 1,
    vmId: spec.id,
    spec: { ...spec },
    state: 'stopped',
    snapshots: [],
    ...(incoming ? { incoming } : {}),
    bootCount: 0,
    updatedAt: new Date().toISOString(),
  };
}

const SUFFIX = '.sim.json';
/** VM ids become file names: refuse anything that could escape the directory. */
const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function isSafeVmId(id: string): boolean {
  return SAFE_ID.test(id) && !id.includes('..');
}

let tmpCounter = 0;

/**
 * One lock per domain file for the whole process, not per store: a migration writes into another
 * host's directory, and that host's driver may live in this same process.
 */
const fileLocks = new KeyedLock();

/**
 * One JSON file per VM in a host's storage directory. A killed worker leaves either the old or the
 * new text, never half of one: an existing file is rewritten in place in one single-page write, a
 * new one is created empty and filled by one such write, a text longer than a page goes through
 * tmp + rename (domain-file-io.ts says why and how; no fsync: surviving a power cut is not a goal
 * of a simulation).
 *
 * The driver uses the asynchronous methods under `exclusive`: a read-modify-write of one VM holds
 * that VM's lock, so two verbs on it in one process cannot interleave. Their reads and in-place
 * writes are synchronous (about ten microseconds, less CPU than the thread-pool hops of
 * `fs/promises`); creating a file, which costs far more here (ext4 making the inode), stays off the
 * event loop (a tmp file and its rename on the loop cost the API process of `ROLE=all` about 6 % of
 * its main-thread time under the create bench). The synchronous methods remain for tools and tests that edit a domain
 * from outside, the way a dead process would leave it.
 */
export class DomainFileStore {
  constructor(readonly dir: string) {}

  path(vmId: string): string {
    return join(this.dir, vmId + SUFFIX);
  }

  /** Runs fn holding the lock of one VM's file (every store of this process shares the locks). */
  exclusive<T>(vmId: string, fn: () => Promise<T>): Promise<T> {
    return fileLocks.run(this.path(vmId), fn);
  }

  /** Both files' locks, taken in path order so two callers locking the same pair cannot deadlock. */
  exclusive2<T>(vmId: string, other: DomainFileStore, fn: () => Promise<T>): Promise<T> {
    const [first, second] = this.path(vmId) < other.path(vmId) ? [this, other] : [other, this];
    return first.exclusive(vmId, () => second.exclusive(vmId, fn));
  }

  /** Synchronous on purpose: one small read costs less than the thread-pool hops of an asynchronous one. */
  async load(vmId: string): Promise<SimDomain | undefined> {
    return this.read(vmId);
  }

  async store(domain: SimDomain): Promise<void> {
    const text = serialize(domain);
    const path = this.path(domain.vmId);
    // An existing domain is rewritten in place (microseconds, see domain-file-io.ts); a new one is
    // created in its place off the event loop, and written by one write (createInPlace). A file that
    // appeared meanwhile (another writer) is rewritten in place after all.
    if (writeInPlace(path, text)) return;
    if (await this.created(path, text)) return;
    if (writeInPlace(path, text)) return;
    // A text longer than a page: a temporary file renamed over the old one, as before.
    const tmp = this.tmpPath(domain.vmId);
    try {
      await writeFile(tmp, text);
    } catch (err) {
      // The directory is made on first use (or again, if someone removed it): no mkdir per write.
      if (!isNotFound(err)) throw err;
      await mkdir(this.dir, { recursive: true });
      await writeFile(tmp, text);
    }
    await rename(tmp, this.path(domain.vmId));
  }

  /** createInPlace, making the directory on first use (or again, if someone removed it): no mkdir per write. */
  private async created(path: string, text: Buffer): Promise<boolean> {
    try {
      return await createInPlace(path, text);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await mkdir(this.dir, { recursive: true });
      return createInPlace(path, text);
    }
  }

  async discard(vmId: string): Promise<void> {
    await rm(this.path(vmId), { force: true });
  }

  async loadAll(): Promise<SimDomain[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if (isNotFound(err)) return [];
      throw err;
    }
    const out: SimDomain[] = [];
    for (const vmId of domainIds(names)) {
      // Removed between readdir and read by a concurrent destroy: not a domain any more.
      const d = await this.load(vmId);
      if (d) out.push(d);
    }
    return out;
  }

  read(vmId: string): SimDomain | undefined {
    const json = readDomainText(this.path(vmId));
    return json === undefined ? undefined : (JSON.parse(json) as SimDomain);
  }

  write(domain: SimDomain): void {
    const text = serialize(domain);
    if (writeInPlace(this.path(domain.vmId), text)) return;
    mkdirSync(this.dir, { recursive: true });
    const tmp = this.tmpPath(domain.vmId);
    writeFileSync(tmp, text);
    renameSync(tmp, this.path(domain.vmId));
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
    return domainIds(names).flatMap((vmId) => this.read(vmId) ?? []);
  }

  /** Dot-prefixed and without the suffix, so listing never mistakes it for a domain. */
  private tmpPath(vmId: string): string {
    return join(this.dir, `.${vmId}.${process.pid}.${++tmpCounter}.tmp`);
  }
}

/** The bytes of a domain's file: its pretty JSON, sealed with its checksum (domain-file-io.ts). */
function serialize(domain: SimDomain): Buffer {
  return Buffer.from(sealText(JSON.stringify(domain, null, 2)), 'utf8');
}

function domainIds(names: string[]): string[] {
  return names
    .sort()
    .filter((name) => name.endsWith(SUFFIX) && !name.startsWith('.'))
    .map((name) => name.slice(0, -SUFFIX.length));
}
