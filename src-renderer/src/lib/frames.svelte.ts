import type { FrameRecord, FrameStatus, Side } from '../../../src-shared/contract/index.js';
import { request } from './app.svelte.js';

/** Frame statuses in display order, with their legend labels. */
export const FRAME_STATUSES: readonly { status: FrameStatus; label: string; hint: string }[] = [
  { status: 'kept', label: 'Kept', hint: 'the chosen person, aligned and kept for training' },
  {
    status: 'skipped',
    label: 'Skipped',
    hint: 'the chosen person, but blurry, too small, an extreme pose or over the cap',
  },
  { status: 'absent', label: 'Absent', hint: 'faces, but not the chosen person' },
  { status: 'no_face', label: 'No face', hint: 'no face found' },
  { status: 'pending', label: 'Pending', hint: 'not looked at yet' },
  { status: 'unreadable', label: 'Unreadable', hint: 'the frame could not be decoded' },
];

const STATUS_CODES: Record<FrameStatus, number> = {
  pending: 1,
  kept: 2,
  skipped: 3,
  no_face: 4,
  absent: 5,
  unreadable: 6,
};
export const STATUS_BY_CODE: readonly (FrameStatus | null)[] = [
  null,
  'pending',
  'kept',
  'skipped',
  'no_face',
  'absent',
  'unreadable',
];

/** Rows per frames.list request for the strip. */
const PAGE = 250;
/** Rows per frames.list request for the status overview (the most the engine allows). */
const OVERVIEW_PAGE = 5000;
/** Pages of thumbnails kept in memory; the farthest from the last request go first. */
const MAX_PAGES = 40;

/**
 * The frames of one side, read in pages as the strip and the selection need them (a real video has 100 000), plus
 * every frame's status in a compact array, filled in the background for the overview bar.
 */
export class FrameIndex {
  /** Number of frames; null until the first page arrives. */
  total = $state<number | null>(null);
  /** Bumped when pages or statuses arrive, so views re-read. */
  version = $state(0);
  error = $state<string | null>(null);

  // Plain maps on purpose: views follow `version`, not each page.
  // eslint-disable-next-line svelte/prefer-svelte-reactivity
  private readonly pages = new Map<number, FrameRecord[]>();
  // eslint-disable-next-line svelte/prefer-svelte-reactivity
  private readonly loading = new Map<number, Promise<void>>();
  private statuses = new Uint8Array(0);
  private overviewStarted = false;
  private closed = false;

  constructor(
    readonly dir: string,
    readonly side: Side,
  ) {}

  close(): void {
    this.closed = true;
  }

  /** The frame at a position of the list (not its frame number: with a frame stride they differ), if loaded. */
  at(position: number): FrameRecord | undefined {
    return this.pages.get(Math.floor(position / PAGE))?.[position % PAGE];
  }

  /** The status at a position from the overview, when known. */
  statusAt(position: number): FrameStatus | null {
    return STATUS_BY_CODE[this.codeAt(position)] ?? null;
  }

  /** The status at a position as a small code (0 = not known yet; see STATUS_BY_CODE). */
  codeAt(position: number): number {
    return this.statuses[position] ?? 0;
  }

  /** Loads the pages covering [from, to]; resolves when they are in. */
  async ensure(from: number, to: number): Promise<void> {
    const last = this.total === null ? from : Math.min(to, this.total - 1);
    const wanted: Promise<void>[] = [];
    for (let page = Math.floor(Math.max(0, from) / PAGE); page <= Math.floor(Math.max(0, last) / PAGE); page += 1)
      wanted.push(this.load(page));
    await Promise.all(wanted);
  }

  private load(page: number): Promise<void> {
    if (this.pages.has(page)) return Promise.resolve();
    const pending = this.loading.get(page);
    if (pending) return pending;
    const run = (async () => {
      try {
        const result = await request('frames.list', {
          dir: this.dir,
          side: this.side,
          offset: page * PAGE,
          limit: PAGE,
        });
        if (this.closed) return;
        this.setTotal(result.total);
        this.pages.set(page, result.frames);
        this.record(page * PAGE, result.frames);
        this.evict(page);
        this.error = null;
        this.version += 1;
        if (!this.overviewStarted) void this.fillOverview();
      } catch (error) {
        if (!this.closed) this.error = error instanceof Error ? error.message : String(error);
      } finally {
        this.loading.delete(page);
      }
    })();
    this.loading.set(page, run);
    return run;
  }

  private setTotal(total: number): void {
    if (this.total === total) return;
    this.total = total;
    const statuses = new Uint8Array(total);
    statuses.set(this.statuses.subarray(0, total));
    this.statuses = statuses;
  }

  private record(offset: number, frames: readonly FrameRecord[]): void {
    frames.forEach((frame, i) => {
      if (offset + i < this.statuses.length) this.statuses[offset + i] = STATUS_CODES[frame.status];
    });
  }

  private evict(keep: number): void {
    if (this.pages.size <= MAX_PAGES) return;
    const far = [...this.pages.keys()].sort((a, b) => Math.abs(b - keep) - Math.abs(a - keep));
    for (const page of far.slice(0, this.pages.size - MAX_PAGES)) this.pages.delete(page);
  }

  /** Reads every frame's status, a big page at a time, for the overview; the strip's pages come first. */
  private async fillOverview(): Promise<void> {
    this.overviewStarted = true;
    const total = this.total ?? 0;
    for (let offset = 0; offset < total && !this.closed; offset += OVERVIEW_PAGE) {
      if (this.coveredByPages(offset, Math.min(OVERVIEW_PAGE, total - offset))) continue;
      try {
        const result = await request('frames.list', {
          dir: this.dir,
          side: this.side,
          offset,
          limit: OVERVIEW_PAGE,
        });
        if (this.closed) return;
        this.record(offset, result.frames);
        this.version += 1;
      } catch {
        return;
      }
    }
  }

  private coveredByPages(offset: number, length: number): boolean {
    for (let page = Math.floor(offset / PAGE); page * PAGE < offset + length; page += 1)
      if (!this.pages.has(page)) return false;
    return true;
  }
}
