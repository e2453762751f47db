import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { TEMP_MARKER } from '../../src-main/engine/io/atomic.js';
import { runCli } from '../helpers/cli.js';
import { nextMessage, startEngine } from '../helpers/engine.js';
import { copyMedia, imageFolder, scratch, walk } from '../helpers/paths.js';
import { recordReliability } from '../helpers/reliability.js';

describe('SIGKILL of the engine during a job', () => {
  it('leaves the index consistent, no half-written file after reopening, and the job resumes', async () => {
    const root = scratch('kill');
    const home = path.join(root, 'home');
    const [video] = copyMedia(path.join(root, 'media'), ['whitehouse_performance_360p.mp4']) as [string];
    const stills = imageFolder(path.join(root, 'media', 'b'), ['b_biden_2.jpg']);
    const dir = path.join(root, 'project');
    expect((await runCli(['new', dir, '--a', video, '--b', stills, '--json'], { FACEPARTS_HOME: home })).code).toBe(0);

    const engine = startEngine(home);
    const progressed = nextMessage(engine, (m) => {
      const event = m.event as { type: string; stage?: string; done?: number } | undefined;
      return m.kind === 'event' && event?.type === 'job.progress' && (event.done ?? 0) >= 40;
    });
    await engine.client.request('jobs.start', { dir, job: { type: 'extract', side: 'a' } });
    await progressed;
    engine.child.kill('SIGKILL');
    const exit = await engine.exited;
    expect(exit.signal).toBe('SIGKILL');

    // Straight after the kill: the database is intact and holds a consistent prefix.
    const db = new Database(path.join(dir, 'index.sqlite'));
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    const cursor = db.prepare(`SELECT next_index, finished FROM stage_cursor WHERE side = 'a'`).get() as {
      next_index: number;
      finished: number;
    };
    const frames = db.prepare(`SELECT COUNT(*) AS n, MAX(idx) AS last FROM frames WHERE side = 'a'`).get() as {
      n: number;
      last: number;
    };
    db.close();
    expect(cursor.finished).toBe(0);
    expect(frames.n).toBe(cursor.next_index);
    expect(frames.last).toBe(cursor.next_index - 1);
    expect(frames.n).toBeLessThan(275);

    // Reopening recovers: no temp file remains, every recorded thumbnail is a whole image.
    const info = await runCli(['info', dir, '--json'], { FACEPARTS_HOME: home });
    expect(info.code).toBe(0);
    const files = walk(dir);
    expect(files.filter((f) => path.basename(f).startsWith(TEMP_MARKER))).toEqual([]);
    const thumbs = files.filter((f) => f.endsWith('.jpg'));
    expect(thumbs.length).toBeGreaterThanOrEqual(frames.n);
    recordReliability('SIGKILL during extraction', { faults: 1, dataLost: Math.max(0, frames.n - thumbs.length) });
    for (const thumb of thumbs) await expect(sharp(thumb).stats()).resolves.toBeTruthy();

    // Kill it again in the middle of face finding, where the tracker's state must survive the kill.
    const second = startEngine(home);
    const finding = nextMessage(
      second,
      (m) => {
        const event = m.event as { type: string; stage?: string; done?: number } | undefined;
        return (
          m.kind === 'event' &&
          event?.type === 'job.progress' &&
          (event.stage ?? '').startsWith('find faces') &&
          (event.done ?? 0) >= 100
        );
      },
      60_000,
    );
    await second.client.request('jobs.start', { dir, job: { type: 'extract', side: 'a' } });
    await finding;
    second.child.kill('SIGKILL');
    await second.exited;
    const mid = new Database(path.join(dir, 'index.sqlite'), { readonly: true });
    expect(mid.pragma('integrity_check', { simple: true })).toBe('ok');
    const detectCursor = mid
      .prepare(`SELECT next_index, finished, state FROM stage_cursor WHERE side = 'a' AND stage = 'detect'`)
      .get() as { next_index: number; finished: number; state: string };
    const facesBefore = mid
      .prepare(`SELECT COUNT(DISTINCT frame_idx) AS n, MAX(frame_idx) AS last FROM faces WHERE side = 'a'`)
      .get() as { n: number; last: number };
    mid.close();
    expect(detectCursor.finished).toBe(0);
    expect(detectCursor.next_index).toBeGreaterThan(0);
    expect(JSON.parse(detectCursor.state)).toMatchObject({ tracks: expect.any(Array) });
    expect(facesBefore.last).toBeLessThan(detectCursor.next_index);

    // Running the job again continues from the cursors and completes the side.
    const again = await runCli(['extract', dir, '--side', 'a', '--json'], { FACEPARTS_HOME: home });
    expect(again.code, again.stdout).toBe(0);
    expect((again.json.sides as { a: { framesRead: number; facesKept: number } }).a).toMatchObject({ framesRead: 275 });
    expect((again.json.sides as { a: { facesKept: number } }).a.facesKept).toBeGreaterThan(100);
    expect(readdirSync(path.join(dir, 'thumbs', 'a'))).toHaveLength(275);
    const after = new Database(path.join(dir, 'index.sqlite'), { readonly: true });
    expect(after.pragma('integrity_check', { simple: true })).toBe('ok');
    expect((after.prepare(`SELECT COUNT(*) AS n FROM frames WHERE side = 'a'`).get() as { n: number }).n).toBe(275);
    const job = after.prepare(`SELECT state, error FROM jobs ORDER BY created_at LIMIT 1`).get() as {
      state: string;
      error: string;
    };
    const duplicates = (
      after
        .prepare(
          `SELECT COUNT(*) AS n FROM (SELECT frame_idx, track_id FROM faces WHERE side = 'a' GROUP BY frame_idx, track_id HAVING COUNT(*) > 1)`,
        )
        .get() as { n: number }
    ).n;
    expect(duplicates).toBe(0);
    after.close();
    expect(job.state).toBe('failed');
    expect(job.error).toMatch(/interrupted/);
    expect(existsSync(path.join(dir, '.engine.lock'))).toBe(false);
  });
});
