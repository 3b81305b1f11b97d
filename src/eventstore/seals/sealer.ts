import { randomUUID, type KeyObject } from 'node:crypto';
import { WrongExpectedVersionError } from '../errors.js';
import type { EventStore, LoggedHash } from '../event-store.port.js';
import { storedEventLeaf, MerkleFrontier } from './merkle.js';
import {
  checkSealSignature,
  GENESIS_SEAL,
  keyIdOf,
  LOG_SEALED,
  publicKeyText,
  sealHash,
  SEALS_STREAM,
  signSeal,
  type SealBody,
} from './seal.js';
import { loadOrCreateSealKey } from './seal-key-file.js';
import { readStoredSeals } from './store-audit.js';
import { appendWitness, readWitness } from './witness.js';

export interface SealerLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface SealerOptions {
  keyFile: string;
  /** Undefined: no witness file (not recommended: a truncated tail then goes unseen). */
  witnessFile: string | undefined;
  /** Seal once this many events are unsealed; 0: never by count. */
  everyEvents: number;
  /** Seal unsealed events at least this often; 0: never by time. */
  everyMs: number;
  log: SealerLog;
  now?: () => Date;
}

export const SEALER_PRINCIPAL = 'system:sealer';
/**
 * Events read and hashed per turn of the event loop. The sealer shares the loop with the requests:
 * all of a catch-up in one turn stopped them for as long as it took (5,000 events at start, ~0.1–0.2 s;
 * a second of a create burst at each tick, ~1,000 events). A page of 200 is a few ms.
 */
export const SEALER_PAGE = 200;

/**
 * Appends a signed LogSealed to `$seals` every `everyEvents` events or `everyMs`,
 * whichever comes first, and writes each seal to the witness. It keeps the Merkle
 * frontier and each stream's last event between seals, so a seal costs the new
 * events' hashes plus log2(n), never a re-read of the log; on start it reads the log
 * once to rebuild them.
 *
 * One owner at a time: the append expects `$seals`' current revision, so of two api
 * processes sealing at once one gets WrongExpectedVersionError, re-reads the latest
 * seal and seals on top of it next time.
 */
export class Sealer {
  private privateKey: KeyObject | undefined;
  publicKey: KeyObject | undefined;
  private readonly frontier = new MerkleFrontier();
  /**
   * Each stream written since the latest seal: its last event (the next seal's heads). Streams
   * the latest seal already covers are dropped: a seal names only streams written after the one
   * before it, and seals' counts only grow, so they are never needed again (one entry per
   * stream of the whole log was hundreds of MB for millions of streams).
   */
  private readonly streams = new Map<string, { revision: number; hash: string; lastIndex: number }>();
  private lastPosition: bigint | undefined;
  private lastEventId = '';
  private lastNonSealIndex = -1;
  private latest: { seal: SealBody; revision: number } | undefined;
  private lastSealAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();
  private stopped = false;
  /** Counts start() calls: a start that finds a later one began while it caught up leaves the timer to it. */
  private starts = 0;

  constructor(
    private readonly store: EventStore,
    private readonly options: SealerOptions,
  ) {}

  /** Loads (or on first start creates) the key and logs the public key auditors verify with. */
  init(): void {
    const keys = loadOrCreateSealKey(this.options.keyFile);
    this.privateKey = keys.privateKey;
    this.publicKey = keys.publicKey;
    this.options.log.info(
      {
        keyFile: this.options.keyFile,
        created: keys.created,
        keyId: keyIdOf(keys.publicKey),
        witness: this.options.witnessFile,
      },
      `seal public key (verify with --key): ${publicKeyText(keys.publicKey)}`,
    );
  }

  get publicKeyBase64(): string {
    if (!this.publicKey) throw new Error('sealer not initialised');
    return publicKeyText(this.publicKey);
  }

  /** Rebuilds the frontier from the log, back-fills the witness, then seals on schedule. */
  async start(): Promise<void> {
    // Started again when its process wins the control-plane lease back after losing it.
    this.stopped = false;
    const startNo = ++this.starts;
    clearInterval(this.timer);
    if (!this.privateKey) this.init();
    if (this.store.kind === 'kurrentdb') {
      // KurrentDB reserves `$` streams and leaves them out of $all reads: seals need their own stream name there first.
      this.options.log.warn({}, 'seals are not written on KurrentDB yet: verify reports its log as unsealed');
      return;
    }
    // In the chain with the ticks and sealNow(): a catch-up spans turns of the loop (a page per turn),
    // and a second one running meanwhile (a stop and a start again, as a lease lost and won back does)
    // would fold the same events into the frontier twice.
    const ready = this.running.then(async () => {
      await this.refreshLatest();
      await this.catchUp();
      await this.backfillWitness();
    });
    this.running = ready.catch(() => undefined);
    await ready;
    // Stopped while catching up: no timer for a sealer that was told to stop; started again meanwhile
    // (stop, then start): the later start sets the one timer, or this one's would outlive every stop().
    if (this.stopped || startNo !== this.starts) return;
    clearInterval(this.timer);
    this.lastSealAt = this.now().getTime();
    const { everyEvents, everyMs } = this.options;
    if (everyEvents <= 0 && everyMs <= 0) return;
    const tick = Math.min(1000, everyMs > 0 ? everyMs : 1000);
    this.timer = setInterval(() => {
      this.running = this.running
        .then(() => this.tick())
        .catch((err: unknown) => this.options.log.warn({ err }, 'sealing failed; retrying'));
    }, tick);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running.catch(() => undefined);
  }

  /** Seals every event read so far now (tests, shutdown, an operator's request); null when there is nothing new. */
  sealNow(): Promise<SealBody | null> {
    const run = this.running.then(async () => {
      await this.catchUp();
      return this.seal();
    });
    this.running = run.catch(() => undefined);
    return run;
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    await this.catchUp();
    const sealed = this.latest?.seal.count ?? 0;
    const byCount = this.options.everyEvents > 0 && this.frontier.size - sealed >= this.options.everyEvents;
    const byTime = this.options.everyMs > 0 && this.now().getTime() - this.lastSealAt >= this.options.everyMs;
    if (byCount || byTime) await this.seal();
  }

  private async catchUp(): Promise<void> {
    for (;;) {
      const page = await this.readPage();
      if (page.length === 0) return;
      for (const e of page) {
        const index = this.frontier.size;
        this.frontier.append(storedEventLeaf(e.hash));
        if (
          this.latest?.seal.count === this.frontier.size &&
          this.latest.seal.root !== this.frontier.root().toString('hex')
        )
          // Earlier seals still prove it; sealing on goes on so that nothing new goes unsealed.
          this.options.log.error(
            { sequence: this.latest.seal.sequence },
            'the log no longer matches the latest seal: run GET /v1/audit/verify',
          );
        if (index >= this.sealedCount)
          this.streams.set(e.streamId, { revision: Number(e.revision), hash: e.hash, lastIndex: index });
        if (!(e.streamId === SEALS_STREAM && e.type === LOG_SEALED)) this.lastNonSealIndex = index;
        this.lastEventId = e.id;
        this.lastPosition = e.position;
      }
      // A short page was the head of the log as of this read: the rest is the next tick's. Without this
      // stop, the yield below let the busy loop commit a few more events each turn, and the catch-up
      // chased the head, one read per turn, for as long as the appends went on.
      if (page.length < SEALER_PAGE) return;
      // The store's reads answer at once (SQLite reads on this thread), so without this every page
      // would be read and hashed in the same turn: let the loop serve what is waiting between pages.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /**
   * The next page of the log after what was sealed so far, as the hashes and places a seal needs:
   * where the store can, without parsing every event's data and metadata. Each event of the log
   * passes here once; parsed whole, a page of up to a thousand of them each second, held while its
   * leaves are hashed, was about 6 % of the main thread's objects that outlived a scavenge.
   */
  private async readPage(): Promise<LoggedHash[]> {
    const after = this.lastPosition !== undefined ? { after: this.lastPosition } : {};
    if (this.store.readAllHashes) return this.store.readAllHashes({ ...after, maxCount: SEALER_PAGE });
    const events = await this.store.readAll({ ...after, maxCount: SEALER_PAGE });
    return events.map((e) => ({
      id: e.id,
      streamId: e.streamId,
      revision: e.revision,
      position: e.position,
      type: e.type,
      hash: e.metadata.hash,
    }));
  }

  private async refreshLatest(): Promise<void> {
    const seals = await readStoredSeals(this.store);
    const last = seals[seals.length - 1];
    this.latest = last?.seal && last.revision !== undefined ? { seal: last.seal, revision: last.revision } : undefined;
    this.forgetSealedStreams();
  }

  /** Events before this index are covered by the latest seal. */
  private get sealedCount(): number {
    return this.latest?.seal.count ?? 0;
  }

  private forgetSealedStreams(): void {
    for (const [streamId, s] of this.streams) if (s.lastIndex < this.sealedCount) this.streams.delete(streamId);
  }

  private async seal(): Promise<SealBody | null> {
    const prev = this.latest?.seal;
    const count = this.frontier.size;
    // Nothing but earlier seals since the last seal: sealing a seal alone would never end.
    if (this.lastNonSealIndex < (prev?.count ?? 0) || count <= (prev?.count ?? 0) || this.lastPosition === undefined) {
      this.lastSealAt = this.now().getTime();
      return null;
    }
    const from = prev?.count ?? 0;
    const heads = [...this.streams.entries()]
      .filter(([, s]) => s.lastIndex >= from)
      .map(([streamId, s]) => ({ streamId, revision: s.revision, hash: s.hash }))
      .sort((a, b) => (a.streamId < b.streamId ? -1 : a.streamId > b.streamId ? 1 : 0));
    const at = this.now().toISOString();
    const body = signSeal(
      {
        v: 1,
        sequence: prev ? prev.sequence + 1 : 0,
        count,
        position: this.lastPosition.toString(),
        lastEventId: this.lastEventId,
        root: this.frontier.root().toString('hex'),
        previous: prev ? sealHash(prev) : GENESIS_SEAL,
        heads,
        sealedAt: at,
      },
      this.privateKey!,
    );
    const id = randomUUID();
    try {
      const r = await this.store.append(
        SEALS_STREAM,
        [
          {
            id,
            type: LOG_SEALED,
            data: body as unknown as Record<string, unknown>,
            metadata: { principal: SEALER_PRINCIPAL, correlationId: id, causationId: id, at, schema: 1 },
          },
        ],
        this.latest ? BigInt(this.latest.revision) : 'no_stream',
      );
      this.latest = { seal: body, revision: Number(r.nextExpectedRevision) };
      this.forgetSealedStreams();
    } catch (err) {
      if (!(err instanceof WrongExpectedVersionError)) throw err;
      // Another process sealed first: seal on top of its seal next time.
      this.options.log.info({ sequence: body.sequence }, 'another process sealed first');
      await this.refreshLatest();
      return null;
    }
    this.lastSealAt = this.now().getTime();
    await this.writeWitness(body);
    return body;
  }

  private async writeWitness(seal: SealBody): Promise<void> {
    if (!this.options.witnessFile) return;
    try {
      await appendWitness(this.options.witnessFile, seal);
    } catch (err) {
      // The seal is in the store; start() writes the witness lines it lacks.
      this.options.log.error({ err, sequence: seal.sequence }, 'cannot write the seal witness');
    }
  }

  /** A crash between the store's append and the witness's write leaves the witness behind: catch it up. */
  private async backfillWitness(): Promise<void> {
    const file = this.options.witnessFile;
    if (!file || !this.latest) return;
    const next = readWitness(file).length;
    if (next > this.latest.seal.sequence) return;
    for (const f of await readStoredSeals(this.store))
      if (f.seal && f.seal.sequence >= next && checkSealSignature(f.seal, [this.publicKey!]))
        await appendWitness(file, f.seal);
  }

  private now(): Date {
    return (this.options.now ?? (() => new Date()))();
  }
}
