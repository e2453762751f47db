import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { migrations } from '../../src-main/engine/project/migrations.js';
import { RunsRepo, recordedSettings, recordedStart } from '../../src-main/engine/project/runs-repo.js';

function freshIndex(): Database.Database {
  const db = new Database(':memory:');
  for (const step of migrations) step(db);
  return db;
}

describe('runs repository', () => {
  it('keeps where a warm-started run came from when the run is continued with new settings', () => {
    const runs = new RunsRepo(freshIndex());
    const id = runs.create({ arch: { resolution: 64 }, settings: { batchSize: 8 } }, 100);
    runs.setStartedFrom(id, { file: '/elsewhere/model.fpm', parts: 'encoder', iteration: 12 });
    runs.setState(id, 'stopped', { iteration: 40, backend: 'cpu', checkpoint: 'checkpoints/run-1/a.fpck' });
    runs.continueWith(id, { arch: { resolution: 64 }, settings: { batchSize: 4 } }, 10);
    const run = runs.get(id);
    expect(run?.config.startedFrom).toEqual({ file: '/elsewhere/model.fpm', parts: 'encoder', iteration: 12 });
    // What the project summary hands the studio (its Train page shows it beside the run).
    expect(recordedStart(run!)).toEqual({ file: '/elsewhere/model.fpm', parts: 'encoder', iteration: 12 });
    expect(run?.config.settings).toEqual({ batchSize: 4 });
    // Asked for 10 after reaching 40: the target stays where the run is.
    expect(run?.targetIterations).toBe(40);
    // A state change without a checkpoint keeps the last one.
    runs.setState(id, 'running', { iteration: 41, backend: 'cpu' });
    expect(runs.get(id)?.checkpoint).toBe('checkpoints/run-1/a.fpck');
  });

  it('reads recorded settings with defaults filled in, and none from a run that recorded none', () => {
    const runs = new RunsRepo(freshIndex());
    const withSettings = runs.create({ settings: { batchSize: 4 } }, 10);
    const without = runs.create({}, 10);
    const [first, second] = runs.list();
    expect(first?.id).toBe(withSettings);
    expect(recordedSettings(first!)?.batchSize).toBe(4);
    expect(recordedSettings(first!)?.resolution).toBe(64);
    expect(second?.id).toBe(without);
    expect(recordedSettings(second!)).toBeNull();
    // A run started from zero (or whose record is not one) has no start to show.
    expect(recordedStart(second!)).toBeNull();
    expect(recordedStart({ ...second!, config: { startedFrom: { file: 3 } } })).toBeNull();
    expect(runs.latestId()).toBe(without);
  });

  it('returns a run’s losses after an iteration, in order, and its previews', () => {
    const runs = new RunsRepo(freshIndex());
    const id = runs.create({}, 10);
    const write = runs.lossWriter(id);
    for (const it of [3, 1, 2]) write(it, { GA: it / 10 });
    runs.addPreview(id, 2, 'previews/run-1/00000002.png');
    expect(runs.losses(id, 1).map((p) => [p.iteration, p.losses.GA])).toEqual([
      [2, 0.2],
      [3, 0.3],
    ]);
    expect(runs.previews(id)).toEqual([{ runId: id, iteration: 2, path: 'previews/run-1/00000002.png' }]);
  });
});
