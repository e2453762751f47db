import { existsSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineProcess } from '../../src-main/host-node/engine-process.js';
import type { JobInfo, JobSpec } from '../../src-shared/contract/index.js';
import { runCli } from '../helpers/cli.js';
import { runJobThrough, startEngine } from '../helpers/engine.js';
import { scratch } from '../helpers/paths.js';
import { synthClip } from '../helpers/synth.js';

/**
 * train.history through an engine child process (the compiled engine: `npm run build` first), on a project trained
 * for three iterations with the CLI: what the index recorded comes back in order, after sinceIteration, with the
 * previews; a long history is thinned evenly to 20,000 points. Then the run a train job names: an id continues that
 * run (refused when its model shape changed), 'new' starts another, and each run keeps its own history and settings.
 */

const TRAIN_FLAGS = [
  '--iterations',
  '3',
  '--batch-size',
  '2',
  '--model-width',
  '8',
  '--no-self-attention',
  '--preview-every',
  '3',
  '--json',
];

describe('train.history', () => {
  let root: string;
  let home: string;
  let project: string;
  let engine: EngineProcess;

  beforeAll(async () => {
    root = scratch('train-history');
    home = path.join(root, 'home');
    const a = await synthClip(path.join(root, 'clips', 'a'), ['a_obama_1.jpg', 'a_obama_2.jpg'], 3);
    const b = await synthClip(path.join(root, 'clips', 'b'), ['b_biden_2.jpg', 'b_biden_1.jpg'], 3);
    project = path.join(root, 'project');
    const env = { FACEPARTS_HOME: home };
    const created = await runCli(['new', project, '--a', a, '--b', b, '--json'], env);
    expect(created.code, created.stderr).toBe(0);
    const extracted = await runCli(['extract', project, '--json'], env);
    expect(extracted.code, extracted.stdout + extracted.stderr).toBe(0);
    engine = startEngine(home);
  }, 180_000);

  afterAll(async () => {
    await engine?.stop();
  });

  it('is empty before any training', async () => {
    expect(await engine.client.request('train.history', { dir: project })).toEqual({ losses: [], previews: [] });
  });

  it('returns the losses and previews of the newest run after three CLI iterations', async () => {
    const trained = await runCli(['train', project, ...TRAIN_FLAGS], { FACEPARTS_HOME: home });
    expect(trained.code, trained.stdout + trained.stderr).toBe(0);
    expect(trained.json).toMatchObject({ state: 'completed', iteration: 3 });

    const history = await engine.client.request('train.history', { dir: project });
    expect(history.losses.map((point) => [point.runId, point.iteration])).toEqual([
      [1, 1],
      [1, 2],
      [1, 3],
    ]);
    for (const point of history.losses) {
      for (const key of ['GA', 'GB', 'DA', 'DB', 'GA_recon', 'GB_recon', 'GA_adv', 'GB_tv']) {
        expect(Number.isFinite(point.losses[key]), `${key} at ${point.iteration}`).toBe(true);
      }
    }
    // The same numbers the trainer wrote to the index.
    const db = new Database(path.join(project, 'index.sqlite'), { readonly: true });
    const stored = db.prepare('SELECT "values" FROM losses WHERE run_id = 1 AND iteration = 2').get() as {
      values: string;
    };
    db.close();
    expect(history.losses[1]?.losses).toEqual(JSON.parse(stored.values));

    expect(history.previews).toEqual([{ runId: 1, iteration: 3, path: 'previews/run-1/00000003.png' }]);
    expect(existsSync(path.join(project, 'previews/run-1/00000003.png'))).toBe(true);

    const later = await engine.client.request('train.history', { dir: project, sinceIteration: 2 });
    expect(later.losses.map((point) => point.iteration)).toEqual([3]);
    expect(later.previews).toHaveLength(1);
    expect(await engine.client.request('train.history', { dir: project, runId: 7 })).toEqual({
      losses: [],
      previews: [],
    });

    const summary = await engine.client.request('project.open', { dir: project });
    expect(summary.trainingRuns).toMatchObject([{ id: 1, iteration: 3, targetIterations: 3, state: 'completed' }]);
  }, 180_000);

  it('thins a long run evenly to 20,000 points, keeping the first and the last, and skips non-numbers', async () => {
    // A second, long run written straight into the index (as a long training would have).
    const db = new Database(path.join(project, 'index.sqlite'));
    db.prepare(
      `INSERT INTO training_runs (id, started_at, config, state, iteration, target_iterations) VALUES (2, ?, '{}', 'stopped', 50000, 100000)`,
    ).run(new Date().toISOString());
    const insert = db.prepare('INSERT INTO losses (run_id, iteration, "values") VALUES (2, ?, ?)');
    db.transaction(() => {
      for (let it = 1; it <= 50_000; it += 1)
        insert.run(it, JSON.stringify({ GA: it / 1000, DA: it === 1 ? null : 1 }));
    })();
    db.prepare(`INSERT INTO previews (run_id, iteration, path) VALUES (2, 300, 'previews/run-2/00000300.png')`).run();
    db.close();

    // The newest run is the default.
    const history = await engine.client.request('train.history', { dir: project });
    expect(history.losses).toHaveLength(20_000);
    const iterations = history.losses.map((point) => point.iteration);
    expect(iterations[0]).toBe(1);
    expect(iterations[1]).toBe(4); // round(49999 / 19999) = round(2.50005) = 3: the fourth row
    expect(iterations.at(-1)).toBe(50_000);
    expect(iterations.every((it, i) => i === 0 || it > (iterations[i - 1] as number))).toBe(true);
    expect(history.losses[0]).toEqual({ runId: 2, iteration: 1, losses: { GA: 0.001 } });
    expect(history.losses[1]).toEqual({ runId: 2, iteration: 4, losses: { GA: 0.004, DA: 1 } });
    expect(history.previews).toEqual([{ runId: 2, iteration: 300, path: 'previews/run-2/00000300.png' }]);

    const tail = await engine.client.request('train.history', { dir: project, runId: 2, sinceIteration: 49_990 });
    expect(tail.losses.map((point) => point.iteration)).toEqual([
      49_991, 49_992, 49_993, 49_994, 49_995, 49_996, 49_997, 49_998, 49_999, 50_000,
    ]);
    // Asking for the first run by id still works.
    const first = await engine.client.request('train.history', { dir: project, runId: 1 });
    expect(first.losses.map((point) => point.iteration)).toEqual([1, 2, 3]);
  }, 60_000);

  /** Starts a job through the engine and waits for its end. */
  const runJob = (job: JobSpec): Promise<JobInfo> => runJobThrough(engine, project, job);

  it('continues the run a job names, refuses a changed model shape, and starts a new run on request', async () => {
    // Run 1's model: the CLI flags above (the rest defaults).
    const model = { batchSize: 2, modelWidth: 8, useSelfAttention: false, previewEvery: 3 };
    const continued = await runJob({ type: 'train', overrides: { ...model, iterations: 4 }, run: 1 });
    expect(continued.state, JSON.stringify(continued.error)).toBe('completed');
    expect(continued.result).toMatchObject({ runId: 1, iteration: 4 });

    const changed = await runJob({ type: 'train', overrides: { ...model, modelWidth: 16, iterations: 6 }, run: 1 });
    expect(changed.state).toBe('failed');
    expect(changed.error).toMatchObject({ code: 'INVALID_PARAMS', field: 'params.job.run' });
    expect(changed.error?.message).toMatch(/run 1 has another model shape \(baseFilters 8 -> 16\)/);
    // Run 2 was written without a model shape (above): refused by name.
    const shapeless = await runJob({ type: 'train', overrides: { ...model, iterations: 6 }, run: 2 });
    expect(shapeless.error?.message).toMatch(/run 2 has another model shape/);
    const missing = await runJob({ type: 'train', overrides: model, run: 99 });
    expect(missing.error).toMatchObject({ code: 'NOT_FOUND', field: 'params.job.run' });

    // A new run with run 1's very settings: iteration 0, its own history.
    const fresh = await runJob({ type: 'train', overrides: { ...model, iterations: 2 }, run: 'new' });
    expect(fresh.state, JSON.stringify(fresh.error)).toBe('completed');
    expect(fresh.result).toMatchObject({ runId: 3, iteration: 2 });

    const summary = await engine.client.request('project.open', { dir: project });
    expect(summary.trainingRuns.map((run) => [run.id, run.iteration, run.targetIterations, run.state])).toEqual([
      [1, 4, 4, 'completed'],
      [2, 50_000, 100_000, 'stopped'],
      [3, 2, 2, 'completed'],
    ]);
    // Each run's own settings, as it was last trained; none recorded for the hand-written run 2.
    expect(summary.trainingRuns[0]?.settings).toMatchObject({ ...model, iterations: 4 });
    expect(summary.trainingRuns[1]?.settings).toBeNull();
    expect(summary.trainingRuns[2]?.settings).toMatchObject({ ...model, iterations: 2 });
    const first = await engine.client.request('train.history', { dir: project, runId: 1 });
    expect(first.losses.map((point) => point.iteration)).toEqual([1, 2, 3, 4]);
    const third = await engine.client.request('train.history', { dir: project, runId: 3 });
    expect(third.losses.map((point) => point.iteration)).toEqual([1, 2]);
  }, 240_000);
});
