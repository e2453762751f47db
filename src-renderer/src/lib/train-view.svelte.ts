import type { EngineEvent, JobInfo } from '../../../src-shared/contract/index.js';
import { onEngineEvent, request } from './app.svelte.js';
import { LossHistory } from './train-series.js';

export interface PreviewItem {
  iteration: number;
  /** Project-relative PNG path. */
  path: string;
}

/** Redraws at most this often, however fast the losses arrive. */
const REDRAW_MS = 250;
/** Points kept in memory per run before the older part is thinned (LossHistory.compact). */
const HISTORY_LIMIT = 60_000;
const ACTIVE: readonly JobInfo['state'][] = ['queued', 'running', 'paused', 'cancelling'];

export function isActiveJob(job: JobInfo | null | undefined): job is JobInfo {
  return !!job && ACTIVE.includes(job.state);
}

/**
 * What the Train page shows of one project's training, kept in step with the engine: the losses and previews of
 * the run on show (train.history, then that run's train.losses and train.preview events; the newest run until
 * `show` picks one) and the project's training job (jobs.list, then job.state events). Every run's history stays
 * readable: showing another run reads its own. The loss history is a plain object, not reactive: `version` moves
 * (a few times a second at most) when it changed, and the charts redraw then.
 */
/** The run's Method #1 pairs image (previews/run-N/pairs.png), not a preview grid. */
export function isPairsImage(path: string): boolean {
  return /(^|\/)pairs\.png$/.test(path);
}

export class TrainView {
  readonly history = new LossHistory();
  /** Bumped, throttled, whenever `history` changed. */
  version = $state(0);
  previews = $state.raw<PreviewItem[]>([]);
  /** Bumped when a run (re)writes its Method #1 pairs image (source | matched target | augmented), so it reloads. */
  pairsVersion = $state(0);
  /** The newest training job of this project the engine knows of (any state). */
  job = $state.raw<JobInfo | null>(null);
  /** Iterations per second of the running job, from its last train.losses event. */
  rate = $state<number | null>(null);
  /** The run the engine is training now, from its events (null until one arrives). */
  liveRunId = $state<number | null>(null);
  /** Whether the first train.history has answered. */
  loaded = $state(false);
  /** The run asked for; null: the newest. */
  private wanted: number | null = null;

  private generation = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly off: () => void;

  constructor(readonly dir: string) {
    this.off = onEngineEvent((event) => this.onEvent(event));
  }

  close(): void {
    this.off();
    this.generation += 1;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Shows another run (null: the newest): its own history is read. */
  async show(runId: number | null): Promise<void> {
    if (runId === this.wanted && (runId === null || runId === this.history.runId)) return;
    this.wanted = runId;
    if (runId !== null && runId !== this.history.runId) {
      this.switchRun(runId);
      this.changed(true);
    }
    await this.load();
  }

  /** Re-reads the shown run's history and the training job; events that arrive meanwhile are kept. */
  async load(): Promise<void> {
    const generation = ++this.generation;
    const wanted = this.wanted;
    const [history, jobs] = await Promise.all([
      request('train.history', wanted === null ? { dir: this.dir } : { dir: this.dir, runId: wanted }),
      request('jobs.list', { dir: this.dir }).catch(() => null),
    ]);
    if (generation !== this.generation) return;
    if (jobs) {
      const newest = newestTrainJob(jobs.jobs, this.dir);
      if (newest) this.adoptJob(newest, 'list');
    }
    const runId = wanted ?? history.losses[0]?.runId ?? history.previews[0]?.runId ?? null;
    if (runId !== null) {
      // Following the newest: a newer run seen live (its first events beat this answer) wins over an older one.
      if (this.history.runId === null || (wanted === null ? runId > this.history.runId : runId !== this.history.runId))
        this.switchRun(runId);
      if (runId === this.history.runId) {
        this.history.addAll(history.losses);
        this.history.compact(HISTORY_LIMIT);
        this.mergePreviews(history.previews);
      }
    }
    this.loaded = true;
    this.changed(true);
  }

  /** Whether an event of this run belongs on show: the run asked for, or (following the newest) a run as new. */
  private accepts(runId: number): boolean {
    if (this.wanted !== null) return runId === this.wanted;
    return this.history.runId === null || runId >= this.history.runId;
  }

  /**
   * Takes in what the engine said about a training job. A newer job replaces the one shown. News of the same job:
   * an event always counts (unless the job has already ended: a late message must not bring it back to life); a
   * jobs.list answer only when it is not behind (queued < running, paused < stopping < ended), since events may
   * have overtaken it; an action's reply (jobs.start, pause, resume, cancel) never, since its events carry the same
   * news in order and the reply may arrive after newer ones.
   */
  adoptJob(job: JobInfo, source: 'event' | 'list' | 'reply'): void {
    if (job.projectDir !== this.dir || job.spec.type !== 'train') return;
    const current = this.job;
    if (current && job.id === current.id) {
      if (!isActiveJob(current) || source === 'reply') return;
      if (source === 'list' && stateRank(job.state) < stateRank(current.state)) return;
    } else if (current && job.createdAt < current.createdAt) {
      return;
    }
    this.job = job;
    if (!isActiveJob(job)) {
      this.rate = null;
      this.liveRunId = null;
    }
  }

  private switchRun(runId: number): void {
    this.history.reset(runId);
    this.previews = [];
  }

  private mergePreviews(items: readonly PreviewItem[]): void {
    const byIteration: Record<number, PreviewItem> = {};
    for (const item of this.previews) byIteration[item.iteration] = item;
    for (const item of items)
      if (!isPairsImage(item.path)) byIteration[item.iteration] = { iteration: item.iteration, path: item.path };
    this.previews = Object.values(byIteration).sort((a, b) => a.iteration - b.iteration);
  }

  private onEvent(event: EngineEvent): void {
    switch (event.type) {
      case 'train.losses':
        if (event.projectDir !== this.dir) return;
        this.liveRunId = event.runId;
        this.rate = event.iterationsPerSecond;
        if (!this.accepts(event.runId)) return;
        if (event.runId !== this.history.runId) this.switchRun(event.runId);
        this.history.add({ iteration: event.iteration, losses: event.losses });
        this.history.compact(HISTORY_LIMIT);
        this.changed();
        break;
      case 'train.preview':
        if (event.projectDir !== this.dir) return;
        this.liveRunId = event.runId;
        if (!this.accepts(event.runId)) return;
        if (event.runId !== this.history.runId) this.switchRun(event.runId);
        // The kNN pairs of the augmented parts method come as a preview too; the page shows them apart.
        if (isPairsImage(event.path)) this.pairsVersion += 1;
        else this.mergePreviews([event]);
        break;
      case 'job.state':
        if (event.job.projectDir !== this.dir || event.job.spec.type !== 'train') return;
        this.adoptJob(event.job, 'event');
        break;
      default:
        break;
    }
  }

  /** Schedules a redraw (now, when `immediate`). */
  private changed(immediate = false): void {
    if (immediate) {
      if (this.timer !== null) clearTimeout(this.timer);
      this.timer = null;
      this.version += 1;
      return;
    }
    if (this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.version += 1;
    }, REDRAW_MS);
  }
}

function stateRank(state: JobInfo['state']): number {
  switch (state) {
    case 'queued':
      return 0;
    case 'running':
    case 'paused':
      return 1;
    case 'cancelling':
      return 2;
    default:
      return 3;
  }
}

function newestTrainJob(jobs: readonly JobInfo[], dir: string): JobInfo | null {
  let best: JobInfo | null = null;
  for (const job of jobs) {
    if (job.projectDir !== dir || job.spec.type !== 'train') continue;
    if (!best || job.createdAt > best.createdAt) best = job;
  }
  return best;
}
