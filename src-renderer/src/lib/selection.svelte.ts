import type { Side } from '../../../src-shared/contract/index.js';

/**
 * What the Timeline has selected, shared with the Masks page and kept per project across reloads (localStorage):
 * the side, the position on each side's strip, and the face the user last opened.
 */
interface Stored {
  side: Side;
  position: Record<Side, number>;
  face: { side: Side; frameIndex: number; faceId: number } | null;
  /** The person (face track) the user chose in this UI per side; extraction follows it after a re-run. */
  chosen: Partial<Record<Side, number>>;
}

const KEY = 'faceparts.timeline';

function fresh(): Stored {
  return { side: 'a', position: { a: 0, b: 0 }, face: null, chosen: {} };
}

function readAll(): Record<string, Stored> {
  try {
    const parsed: unknown = JSON.parse(window.localStorage.getItem(KEY) ?? '{}');
    return parsed && typeof parsed === 'object' ? (parsed as Record<string, Stored>) : {};
  } catch {
    return {};
  }
}

class Selection {
  private dir: string | null = null;
  state = $state<Stored>(fresh());

  /** Switches to a project's remembered selection. */
  use(dir: string): void {
    if (this.dir === dir) return;
    this.dir = dir;
    const stored = readAll()[dir];
    this.state = stored ? { ...fresh(), ...stored, position: { ...fresh().position, ...stored.position } } : fresh();
  }

  update(patch: Partial<Stored>): void {
    this.state = { ...this.state, ...patch };
    if (!this.dir) return;
    try {
      const all = readAll();
      all[this.dir] = $state.snapshot(this.state);
      // Remember a handful of projects, not every one ever opened.
      const keys = Object.keys(all);
      for (const key of keys.slice(0, Math.max(0, keys.length - 20))) if (key !== this.dir) delete all[key];
      window.localStorage.setItem(KEY, JSON.stringify(all));
    } catch {
      // Storage disabled: the selection lasts until the page is closed.
    }
  }
}

export const selection = new Selection();
