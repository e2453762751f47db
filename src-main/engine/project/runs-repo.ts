import type Database from 'better-sqlite3';
import { TrainingSettings, type LossPoint, type PreviewRecord } from '../../../src-shared/contract/index.js';

/** Rows of the training_runs, losses and previews tables, typed; the SQL stays here. */
export interface RunRow {
  id: number;
  startedAt: string;
  iteration: number;
  targetIterations: number;
  state: string;
  backend: string | null;
  checkpoint: string | null;
  /** The run's recorded config: its model shape, settings and where it started from (free-form JSON). */
  config: Record<string, unknown>;
}

interface RawRun {
  id: number;
  started_at: string;
  iteration: number;
  target_iterations: number;
  state: string;
  backend: string | null;
  checkpoint: string | null;
  config: string;
}

/** The most loss points a history holds; a longer one is thinned evenly (first and last kept). */
export const MAX_HISTORY_POINTS = 20_000;

function parseConfig(json: string): Record<string, unknown> {
  try {
    const parsed = JSON.parse(json) as unknown;
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function toRun(raw: RawRun): RunRow {
  return {
    id: raw.id,
    startedAt: raw.started_at,
    iteration: raw.iteration,
    targetIterations: raw.target_iterations,
    state: raw.state,
    backend: raw.backend,
    checkpoint: raw.checkpoint,
    config: parseConfig(raw.config),
  };
}

/** A run's recorded training settings, or null when it recorded none (or ones this version cannot read). */
export function recordedSettings(run: RunRow): TrainingSettings | null {
  if (run.config.settings === undefined) return null;
  const parsed = TrainingSettings.safeParse(run.config.settings);
  return parsed.success ? parsed.data : null;
}

/** Where a warm-started run's weights came from (setStartedFrom), or null. */
export function recordedStart(run: RunRow): { file: string; parts: string; iteration: number } | null {
  const from = run.config.startedFrom as { file?: unknown; parts?: unknown; iteration?: unknown } | undefined;
  if (!from || typeof from.file !== 'string' || typeof from.parts !== 'string') return null;
  const iteration = typeof from.iteration === 'number' && Number.isInteger(from.iteration) ? from.iteration : 0;
  return { file: from.file, parts: from.parts, iteration };
}

/** A stored loss record with only its finite numbers (NaN is stored as null); null when it cannot be read. */
function finiteValues(json: string): Record<string, number> | null {
  const parsed = parseConfig(json);
  const values: Record<string, number> = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (typeof value === 'number' && Number.isFinite(value)) values[key] = value;
  }
  return values;
}

export class RunsRepo {
  constructor(private readonly db: Database.Database) {}

  /** All runs, oldest first. */
  list(): RunRow[] {
    return (this.db.prepare('SELECT * FROM training_runs ORDER BY id').all() as RawRun[]).map(toRun);
  }

  get(id: number): RunRow | undefined {
    const raw = this.db.prepare('SELECT * FROM training_runs WHERE id = ?').get(id) as RawRun | undefined;
    return raw ? toRun(raw) : undefined;
  }

  latestId(): number | undefined {
    return (this.db.prepare('SELECT MAX(id) AS id FROM training_runs').get() as { id: number | null }).id ?? undefined;
  }

  create(config: Record<string, unknown>, targetIterations: number): number {
    const result = this.db
      .prepare(
        `INSERT INTO training_runs (started_at, config, state, iteration, target_iterations) VALUES (?, ?, 'running', 0, ?)`,
      )
      .run(new Date().toISOString(), JSON.stringify(config), targetIterations);
    return Number(result.lastInsertRowid);
  }

  /**
   * A run continued with (possibly) new settings: its config is replaced but what it recorded about its start
   * (startedFrom) stays; its target never drops below where it is.
   */
  continueWith(id: number, config: Record<string, unknown>, targetIterations: number): void {
    const run = this.get(id);
    if (!run) throw new Error(`no training run ${id}`);
    const kept = run.config.startedFrom === undefined ? {} : { startedFrom: run.config.startedFrom };
    this.db
      .prepare('UPDATE training_runs SET target_iterations = ?, config = ? WHERE id = ?')
      .run(Math.max(targetIterations, run.iteration), JSON.stringify({ ...config, ...kept }), id);
  }

  /** Records where a new run's weights came from (a warm start). */
  setStartedFrom(id: number, startedFrom: unknown): void {
    this.db
      .prepare(`UPDATE training_runs SET config = json_set(config, '$.startedFrom', json(?)) WHERE id = ?`)
      .run(JSON.stringify(startedFrom), id);
  }

  /** The run's state and position; the checkpoint is kept when none is given. */
  setState(
    id: number,
    state: string,
    fields: { iteration: number; backend: string | null; checkpoint?: string | null },
  ): void {
    this.db
      .prepare(
        'UPDATE training_runs SET state = ?, iteration = ?, backend = ?, checkpoint = COALESCE(?, checkpoint) WHERE id = ?',
      )
      .run(state, fields.iteration, fields.backend, fields.checkpoint ?? null, id);
  }

  /** A prepared writer for one run's loss points (one per iteration, so prepared once). */
  lossWriter(id: number): (iteration: number, values: Record<string, number>) => void {
    const insert = this.db.prepare('INSERT OR REPLACE INTO losses (run_id, iteration, "values") VALUES (?, ?, ?)');
    return (iteration, values) => insert.run(id, iteration, JSON.stringify(values));
  }

  addPreview(id: number, iteration: number, relPath: string): void {
    this.db
      .prepare('INSERT OR REPLACE INTO previews (run_id, iteration, path) VALUES (?, ?, ?)')
      .run(id, iteration, relPath);
  }

  previews(id: number): PreviewRecord[] {
    return (
      this.db.prepare('SELECT iteration, path FROM previews WHERE run_id = ? ORDER BY iteration').all(id) as Array<{
        iteration: number;
        path: string;
      }>
    ).map((row) => ({ runId: id, iteration: row.iteration, path: row.path }));
  }

  /** The run's losses after sinceIteration, in order, thinned evenly to at most `cap` points. */
  losses(id: number, sinceIteration = 0, cap = MAX_HISTORY_POINTS): LossPoint[] {
    const { n } = this.db
      .prepare('SELECT COUNT(*) AS n FROM losses WHERE run_id = ? AND iteration > ?')
      .get(id, sinceIteration) as { n: number };
    const rows = this.db
      .prepare('SELECT iteration, "values" AS json FROM losses WHERE run_id = ? AND iteration > ? ORDER BY iteration')
      .iterate(id, sinceIteration) as IterableIterator<{ iteration: number; json: string }>;
    const out: LossPoint[] = [];
    // Row k of n is kept when it is the next of the evenly spaced picks round(i * (n - 1) / (cap - 1)).
    let pick = 0;
    let index = 0;
    for (const row of rows) {
      const wanted = n <= cap ? index : Math.round((pick * (n - 1)) / (cap - 1));
      index += 1;
      if (index - 1 !== wanted) continue;
      pick += 1;
      const values = finiteValues(row.json);
      if (values) out.push({ runId: id, iteration: row.iteration, losses: values });
    }
    return out;
  }
}
