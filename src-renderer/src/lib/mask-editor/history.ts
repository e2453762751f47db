/** An undo/redo stack of immutable states, with a limit on how many past states it keeps. */

export interface History<T> {
  readonly past: readonly T[];
  readonly present: T;
  readonly future: readonly T[];
  /** The most past states kept; the oldest drop off first. */
  readonly limit: number;
}

export function createHistory<T>(present: T, limit = 100): History<T> {
  if (!Number.isInteger(limit) || limit < 1)
    throw new RangeError(`history limit must be a positive integer, got ${limit}`);
  return { past: [], present, future: [], limit };
}

/** Records a new state (the old present becomes undoable); clears the redo side. Pushing the present is a no-op. */
export function push<T>(history: History<T>, next: T): History<T> {
  if (Object.is(next, history.present)) return history;
  const past = [...history.past, history.present];
  return {
    past: past.slice(Math.max(0, past.length - history.limit)),
    present: next,
    future: [],
    limit: history.limit,
  };
}

export function canUndo<T>(history: History<T>): boolean {
  return history.past.length > 0;
}

export function canRedo<T>(history: History<T>): boolean {
  return history.future.length > 0;
}

export function undo<T>(history: History<T>): History<T> {
  const previous = history.past.at(-1);
  if (history.past.length === 0) return history;
  return {
    past: history.past.slice(0, -1),
    present: previous as T,
    future: [history.present, ...history.future],
    limit: history.limit,
  };
}

export function redo<T>(history: History<T>): History<T> {
  if (history.future.length === 0) return history;
  const [next, ...rest] = history.future;
  return {
    past: [...history.past, history.present].slice(-history.limit),
    present: next as T,
    future: rest,
    limit: history.limit,
  };
}
