/** The driver calls this worker runs, by operation, so that a cancel aborts exactly those. */
export class RunningCalls {
  private readonly byOperation = new Map<string, Set<(err: Error) => void>>();

  /** `cancel` hears the operation's cancels until the returned function is called. */
  listen(operationId: string, cancel: (err: Error) => void): () => void {
    let calls = this.byOperation.get(operationId);
    if (!calls) {
      calls = new Set();
      this.byOperation.set(operationId, calls);
    }
    const mine = calls;
    mine.add(cancel);
    return () => {
      mine.delete(cancel);
      if (!mine.size && this.byOperation.get(operationId) === mine) this.byOperation.delete(operationId);
    };
  }

  cancel(operationId: string, err: () => Error): void {
    for (const cancel of this.byOperation.get(operationId) ?? []) cancel(err());
  }
}
