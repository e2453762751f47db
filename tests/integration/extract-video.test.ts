import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { eyeAlignmentError } from '../../src-main/engine/align/aligned-face.js';
import { FaceNets } from '../../src-main/engine/landmarks/face-nets.js';
import { resolveTools } from '../../src-main/engine/media/tools.js';
import { runCli } from '../helpers/cli.js';
import { nextMessage, startEngine } from '../helpers/engine.js';
import { copyMedia, imageFolder, scratch } from '../helpers/paths.js';
import { ProjectStore } from '../../src-main/engine/project/store.js';
import { FacesRepo } from '../../src-main/engine/project/faces-repo.js';

/**
 * Shots of the sample video where the performer's face is plainly visible, labelled by eye from its frames:
 * 0-19 wide shot (face ~40 px), 82-210 medium shot. 20-81 is a close profile cut by the frame edge and
 * 211-274 the audience.
 */
const PERFORMER_VISIBLE = [
  ...Array.from({ length: 20 }, (_, i) => i),
  ...Array.from({ length: 129 }, (_, i) => 82 + i),
];

interface SideReport {
  framesRead: number;
  facesKept: number;
  facesSkipped: number;
  skippedByReason: Record<string, number>;
  tracks: number;
  chosenTrack: number;
}

describe('extraction of the sample video', () => {
  let root: string;
  let dir: string;
  let home: string;
  let report: { a: SideReport; b: SideReport };

  beforeAll(async () => {
    root = scratch('extract-video');
    home = path.join(root, 'home');
    const [video] = copyMedia(path.join(root, 'media'), ['whitehouse_performance_360p.mp4']) as [string];
    const stills = imageFolder(path.join(root, 'media', 'b'), ['b_biden_1.jpg', 'b_biden_2.jpg']);
    dir = path.join(root, 'project');
    await runCli(['new', dir, '--a', video, '--b', stills, '--json'], { FACEPARTS_HOME: home });
    const result = await runCli(['extract', dir, '--json'], { FACEPARTS_HOME: home });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    report = result.json.sides as typeof report;
  });

  it('reports frames read, faces kept, faces skipped by reason, and tracks', () => {
    expect(report.a).toMatchObject({ framesRead: 275, tracks: expect.any(Number), chosenTrack: expect.any(Number) });
    expect(report.a.facesKept).toBeGreaterThan(100);
    expect(report.a.facesSkipped).toBe(Object.values(report.a.skippedByReason).reduce((x, y) => x + y, 0));
    expect(report.b).toMatchObject({ framesRead: 2, facesKept: 2 });
  });

  it("records each frame's own size: the video's, and each still's (they differ), with the faces' boxes inside", () => {
    const store = ProjectStore.open(dir);
    try {
      expect(store.listFrames('a', 0, 3).frames.map((f) => [f.width, f.height])).toEqual([
        [640, 360],
        [640, 360],
        [640, 360],
      ]);
      const stills = store.listFrames('b', 0, 10).frames;
      expect(stills.map((f) => [f.width, f.height])).toEqual([
        [970, 2204],
        [1200, 1200],
      ]);
      const faces = new FacesRepo(store.db).list('b', undefined, 0, 50).faces;
      for (const face of faces) {
        const frame = stills.find((f) => f.index === face.frameIndex);
        // Boxes are in the image's own pixels: the centre lies inside it (a box may reach past an edge).
        expect(face.box.x + face.box.width / 2).toBeLessThan(frame?.width as number);
        expect(face.box.y + face.box.height / 2).toBeLessThan(frame?.height as number);
        expect(face.box.width).toBeLessThan(frame?.width as number);
      }
    } finally {
      store.close();
    }
  });

  it('a second run resumes: nothing is redone and the counts stay', async () => {
    const again = await runCli(['extract', dir, '--side', 'b', '--json'], { FACEPARTS_HOME: home });
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/frames already indexed/);
    expect((again.json.sides as typeof report).b).toEqual(report.b);
  });

  it('tracks the performer as the chosen person in at least 90% of the frames where his face is visible', () => {
    const db = new Database(path.join(dir, 'index.sqlite'), { readonly: true });
    const frames = new Set(
      (
        db
          .prepare('SELECT frame_idx FROM faces WHERE side = ? AND track_id = ?')
          .all('a', report.a.chosenTrack) as Array<{ frame_idx: number }>
      ).map((r) => r.frame_idx),
    );
    const audience = (
      db
        .prepare('SELECT COUNT(*) AS n FROM faces WHERE side = ? AND track_id = ? AND frame_idx >= 212')
        .get('a', report.a.chosenTrack) as { n: number }
    ).n;
    db.close();
    const covered = PERFORMER_VISIBLE.filter((f) => frames.has(f)).length / PERFORMER_VISIBLE.length;
    expect(covered).toBeGreaterThanOrEqual(0.9);
    // The audience shot is other people: the chosen track must not follow the camera into it.
    expect(audience).toBe(0);
  });

  it('aligns kept faces so the eye centres sit within 5% of the template (re-measured on the saved crops)', async () => {
    const nets = await FaceNets.load();
    const db = new Database(path.join(dir, 'index.sqlite'), { readonly: true });
    const crops = (
      db.prepare(`SELECT crop FROM faces WHERE side = 'a' AND status = 'kept' ORDER BY frame_idx`).all() as Array<{
        crop: string;
      }>
    ).map((r) => r.crop);
    db.close();
    const sample = crops.filter((_, i) => i % Math.ceil(crops.length / 12) === 0);
    const errors: number[] = [];
    for (const crop of sample) {
      const { data } = await sharp(path.join(dir, crop)).raw().toBuffer({ resolveWithObject: true });
      errors.push(eyeAlignmentError(await nets.landmarks(data, 256, 256, { x: 48, y: 40, width: 160, height: 176 })));
    }
    const within = errors.filter((e) => e < 0.05).length / errors.length;
    expect(within, JSON.stringify(errors.map((e) => e.toFixed(3)))).toBeGreaterThanOrEqual(0.9);
  });

  it('lets the user choose another person, and the next extraction aligns that person instead', async () => {
    const engine = startEngine(home);
    try {
      const faces = await engine.client.request('faces.list', { dir, side: 'a', frameIndex: 240 });
      const others = faces.faces
        .filter((f) => f.trackId !== report.a.chosenTrack)
        .sort((x, y) => y.box.width - x.box.width);
      expect(others.length).toBeGreaterThan(0);
      // Audience members can be all in profile (a clear 'extreme pose' failure); try them largest first.
      let chosen: number | null = null;
      const outcomes: string[] = [];
      for (const other of others) {
        await engine.client.request('faces.chooseTrack', { dir, side: 'a', trackId: other.trackId as number });
        const done = nextMessage(
          engine,
          (m) =>
            m.kind === 'event' &&
            (m.event as { type: string }).type === 'job.state' &&
            ['completed', 'failed'].includes((m.event as { job: { state: string } }).job.state),
          60_000,
        );
        await engine.client.request('jobs.start', { dir, job: { type: 'extract', side: 'a' } });
        const final = (await done).event as {
          job: { state: string; error: { code: string; message: string } | null; result: { sides: { a: SideReport } } };
        };
        outcomes.push(
          final.job.state === 'completed' ? 'completed' : `${final.job.error?.code}: ${final.job.error?.message}`,
        );
        if (final.job.state === 'completed') {
          expect(final.job.result.sides.a.chosenTrack).toBe(other.trackId);
          chosen = other.trackId;
          break;
        }
        expect(final.job.error?.code).toBe('BAD_MEDIA');
      }
      expect(chosen, outcomes.join(' | ')).not.toBeNull();
      const after = await engine.client.request('faces.list', { dir, side: 'a', frameIndex: 240 });
      const face = after.faces.find((f) => f.trackId === chosen);
      expect(face?.status).toMatch(/kept|skipped/);
      const performer = after.faces.find((f) => f.trackId === report.a.chosenTrack);
      if (performer) expect(performer.status).toBe('pending');
      const masks = await engine.client.request('masks.get', { dir, faceId: face?.id as number });
      expect(Object.keys(masks.generated)).toEqual(
        expect.arrayContaining(['eyes', 'eyes.1', 'nose', 'mouth', 'face', 'eyebrows']),
      );
    } finally {
      await engine.stop();
    }
  });

  it('a video with no face gives a clear error naming the file', async () => {
    const ffmpeg = resolveTools().ffmpeg as string;
    const blank = path.join(root, 'media', 'no face.mp4');
    execFileSync(ffmpeg, [
      '-v',
      'error',
      '-f',
      'lavfi',
      '-i',
      'testsrc=size=320x240:rate=10:duration=2',
      '-pix_fmt',
      'yuv420p',
      blank,
    ]);
    const stills = path.join(root, 'media', 'b');
    const project = path.join(root, 'no-face-project');
    expect((await runCli(['new', project, '--a', blank, '--b', stills, '--json'], { FACEPARTS_HOME: home })).code).toBe(
      0,
    );
    const result = await runCli(['extract', project, '--side', 'a', '--json'], { FACEPARTS_HOME: home });
    expect(result.code).toBe(1);
    expect(result.json.error).toMatchObject({
      code: 'BAD_MEDIA',
      file: blank,
      message: expect.stringMatching(/no face was found/),
    });
    // The frames it read are kept for the timeline.
    expect(existsSync(path.join(project, 'thumbs', 'a', '000019.jpg'))).toBe(true);
  });
});
