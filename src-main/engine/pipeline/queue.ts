/** Bounded queues between pipeline stages: items flow in order, at most `size` ahead of the consumer. */

/** Pull up to `size` items of `source` ahead of the consumer (e.g. decode while the last frame is worked on). */
export async function* readAhead<T>(source: AsyncIterable<T>, size: number): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]();
  const ahead: Array<Promise<IteratorResult<T>>> = [];
  // An async generator queues next() calls, so these resolve in order.
  const pull = (): void => {
    const next = it.next();
    next.catch(() => undefined);
    ahead.push(next);
  };
  try {
    for (let i = 0; i < size; i += 1) pull();
    for (;;) {
      const result = await (ahead.shift() as Promise<IteratorResult<T>>);
      if (result.done) return;
      pull();
      yield result.value;
    }
  } finally {
    await it.return?.(undefined);
  }
}

/**
 * Run `work` on each item with up to `concurrency` in flight, yielding the results in the items' order (so
 * commits and cursors advance in order).
 */
export async function* inOrder<T, R>(
  source: AsyncIterable<T>,
  concurrency: number,
  work: (item: T) => Promise<R>,
): AsyncGenerator<R> {
  const running: Array<Promise<R>> = [];
  const start = (item: T): void => {
    const p = work(item);
    p.catch(() => undefined);
    running.push(p);
  };
  for await (const item of source) {
    start(item);
    if (running.length >= concurrency) yield await (running.shift() as Promise<R>);
  }
  while (running.length > 0) yield await (running.shift() as Promise<R>);
}
