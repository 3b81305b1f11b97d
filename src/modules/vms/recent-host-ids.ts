/** How long host ids read once answer a create's up-front guess. */
export const HOST_IDS_GUESS_MS = 1000;

/**
 * The registered host ids, for a create's up-front check (VmsService.mustFitSomeHost). Its
 * guess ("some host could hold this size") takes the ids read within HOST_IDS_GUESS_MS
 * instead of a Redis round trip per create. Only the guess's yes is answered on them: a host
 * registered since is missing, so a "no" is read fresh, as a refusal always was, and a host
 * removed since is filtered out by its own state, as before.
 */
export class RecentHostIds {
  private known: { ids: string[]; at: number } | undefined;

  constructor(
    private readonly read: () => Promise<string[]>,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Recent ids for a guess; read (and remembered) when there are none. */
  async toGuess(): Promise<string[]> {
    const known = this.known;
    if (known && this.now() - known.at < HOST_IDS_GUESS_MS) return known.ids;
    return this.fresh();
  }

  /** The ids as the read model has them now (remembered for the next guess). */
  async fresh(): Promise<string[]> {
    const at = this.now();
    const ids = await this.read();
    this.known = { ids, at };
    return ids;
  }
}
