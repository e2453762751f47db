import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeFrames } from '../../src-main/engine/media/decode.js';
import { probeSource } from '../../src-main/engine/media/probe.js';
import { TRACKING_CACHE_DIR } from '../../src-main/engine/project/tracking-cache.js';
import { requireTool, resolveTools } from '../../src-main/engine/media/tools.js';
import { trainedRegion } from '../../src-main/engine/train/augment.js';
import { expectSameTiming, probeAv, recordSync } from '../helpers/av-sync.js';
import { runCli } from '../helpers/cli.js';
import { nextMessage, runJobThrough, startEngine } from '../helpers/engine.js';
import { copyMedia, scratch } from '../helpers/paths.js';
import { recordReliability } from '../helpers/reliability.js';
import { synthClip } from '../helpers/synth.js';

interface Probe {
  streams: Array<{
    codec_type: string;
    nb_frames?: string;
    r_frame_rate: string;
    duration?: string;
    width?: number;
    height?: number;
  }>;
  format: { duration: string; tags?: Record<string, string> };
}

function ffprobe(file: string): Probe {
  return JSON.parse(
    execFileSync(resolveTools().ffprobe as string, [
      '-v',
      'error',
      '-print_format',
      'json',
      '-show_streams',
      '-show_format',
      file,
    ]).toString(),
  ) as Probe;
}

describe('conversion of the sample video', () => {
  let root: string;
  let home: string;
  let project: string;
  let video: string;

  /** The project's tiny model trained (or resumed) up to `iterations`. */
  const trainTiny = (iterations: number): ReturnType<typeof runCli> =>
    runCli(
      [
        'train',
        project,
        '--iterations',
        String(iterations),
        '--batch-size',
        '2',
        '--model-width',
        '8',
        '--no-self-attention',
        '--json',
      ],
      { FACEPARTS_HOME: home },
    );

  beforeAll(async () => {
    root = scratch('convert');
    home = path.join(root, 'home');
    [video] = copyMedia(path.join(root, 'media'), ['whitehouse_performance_360p.mp4']) as [string];
    const a = await synthClip(path.join(root, 'clips', 'a'), ['a_obama_1.jpg', 'a_obama_2.jpg'], 2);
    const b = await synthClip(path.join(root, 'clips', 'b'), ['b_biden_2.jpg', 'b_biden_1.jpg'], 2);
    project = path.join(root, 'project');
    expect((await runCli(['new', project, '--a', a, '--b', b, '--json'], { FACEPARTS_HOME: home })).code).toBe(0);
    expect((await runCli(['extract', project, '--json'], { FACEPARTS_HOME: home })).code).toBe(0);
    // A tiny model: the checks here are about tracking, masking and encoding, not swap quality.
    const trained = await trainTiny(2);
    expect(trained.code, trained.stdout).toBe(0);
  });

  it('EYES: same frames, fps, size and duration, audio in sync; only the eye region changes; the Kalman track jitters less', async () => {
    const output = path.join(root, 'out', 'eyes.mp4');
    mkdirSync(path.dirname(output), { recursive: true });
    const result = await runCli(
      ['convert', project, '--input', video, '--output', output, '--segmentation', 'EYES_ONLY', '--json'],
      { FACEPARTS_HOME: home },
    );
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(readdirSync(path.dirname(output)).sort()).toEqual([
      'eyes.mp4',
      'eyes.mp4.metrics.json',
      'eyes.mp4.track.json',
    ]);

    const src = ffprobe(video);
    const out = ffprobe(output);
    const v = (p: Probe) => p.streams.find((s) => s.codec_type === 'video');
    expect(v(out)).toMatchObject({
      nb_frames: v(src)?.nb_frames,
      r_frame_rate: v(src)?.r_frame_rate,
      duration: v(src)?.duration,
      width: 640,
      height: 360,
    });
    expect(out.streams.some((s) => s.codec_type === 'audio')).toBe(true);
    // The source's video starts 0.852 s in, its audio at 0.008 s: the export starts with the first frame and the
    // audio that went with it (the 0.844 s of sound before any picture is not kept), every packet at its source time.
    recordSync(expectSameTiming('convert EYES (CLI)', probeAv(video), probeAv(output), 0, 274, 'constant'));
    expect(out.format.tags?.comment).toMatch(/[Ss]ynthetic/);

    const metrics = JSON.parse(readFileSync(`${output}.metrics.json`, 'utf8')) as {
      frames: number;
      framesSwapped: number;
      jitterRawPx: number;
      jitterSmoothedPx: number;
    };
    expect(metrics.frames).toBe(275);
    expect(metrics.framesSwapped).toBeGreaterThan(120);
    expect(metrics.jitterSmoothedPx).toBeLessThan(metrics.jitterRawPx);

    // Decode both and compare: away from the followed face nothing changes beyond encoding noise, and in
    // EYES mode the strong changes sit in the upper half of the face box, not at the mouth.
    const track = JSON.parse(readFileSync(`${output}.track.json`, 'utf8')) as { smoothed: Array<number[] | null> };
    const srcFrames = decodeFrames(await probeSource(video), { stride: 1, startIndex: 0 });
    const outFrames = decodeFrames(await probeSource(output), { stride: 1, startIndex: 0 });
    let outsideDiff = 0;
    let outsideCount = 0;
    let outsideLarge = 0;
    let strongUpper = 0;
    let strongLower = 0;
    for (let i = 0; i < 275; i += 1) {
      const a = (await srcFrames.next()).value?.rgb as Buffer;
      const b = (await outFrames.next()).value?.rgb as Buffer;
      const box = track.smoothed[i];
      for (let y = 0; y < 360; y += 2) {
        for (let x = 0; x < 640; x += 2) {
          const o = (y * 640 + x) * 3;
          const d = Math.max(
            Math.abs((a[o] as number) - (b[o] as number)),
            Math.abs((a[o + 1] as number) - (b[o + 1] as number)),
            Math.abs((a[o + 2] as number) - (b[o + 2] as number)),
          );
          const [bx, by, bw, bh] = (box ?? [0, 0, 0, 0]) as [number, number, number, number];
          const near =
            box !== null && x > bx - bw * 0.25 && x < bx + bw * 1.25 && y > by - bh * 0.25 && y < by + bh * 1.25;
          if (!near) {
            outsideDiff += d;
            outsideCount += 1;
            if (d > 40) outsideLarge += 1;
          } else if (d > 60) {
            if (y < by + bh * 0.55) strongUpper += 1;
            else if (y > by + bh * 0.7) strongLower += 1;
          }
        }
      }
    }
    // x264 at crf 16 over an already compressed source: about 2 levels of noise on average, no large errors.
    expect(outsideDiff / outsideCount).toBeLessThan(3);
    expect(outsideLarge / outsideCount).toBeLessThan(1e-3);
    expect(strongUpper).toBeGreaterThan(50);
    expect(strongLower).toBeLessThan(strongUpper * 0.05);

    // Quality metrics, measured from the encoded file against a fresh decode of the input: outside the region the
    // swap may touch (plus the codec's margin), nothing beyond compression noise; the placed face jitters at most
    // half as much as the per-frame landmark fit.
    const quality = metrics as unknown as {
      outsideMask: { framesCompared: number; pixels: number; changed: number; meanAbsDiff: number };
      lightness: { frames: number; meanDeltaL: number };
      borderDeltaE: { samples: number; mean: number };
      landmarkAgreement: { samples: number; meanNme: number };
      identity: { samples: number; meanDistanceToTarget: number; sourceFaceDistanceToTarget: number };
      identityIndependent: { samples: number; meanDistanceToTarget: number; sourceFaceDistanceToTarget: number };
    };
    expect(quality.outsideMask.framesCompared).toBe(275);
    expect(quality.outsideMask.pixels).toBeGreaterThan(275 * 640 * 300);
    expect(quality.outsideMask.changed / quality.outsideMask.pixels).toBeLessThan(1e-5);
    expect(quality.outsideMask.meanAbsDiff).toBeLessThan(3);
    expect(metrics.jitterSmoothedPx).toBeLessThanOrEqual(0.5 * metrics.jitterRawPx);
    expect(quality.lightness.frames).toBe(metrics.framesSwapped);
    expect(Math.abs(quality.lightness.meanDeltaL)).toBeLessThan(6);
    expect(quality.borderDeltaE.samples).toBeGreaterThan(5);
    // A tiny model barely changes the eyes: the colour step at the mask's edge is small.
    expect(quality.borderDeltaE.mean).toBeLessThan(8);
    expect(quality.landmarkAgreement.samples).toBeGreaterThan(5);
    // EYES with a tiny model: the face keeps its landmarks (pose and expression) closely.
    expect(quality.landmarkAgreement.meanNme).toBeLessThan(0.15);
    // Identity by both nets: a two-iteration model leaves the performer as far from side B's person as he was.
    for (const identity of [quality.identity, quality.identityIndependent]) {
      expect(identity.samples).toBeGreaterThan(5);
      expect(Math.abs(identity.meanDistanceToTarget - identity.sourceFaceDistanceToTarget)).toBeLessThan(0.1);
    }

    // The same measures from the encoded file alone: outside the region a swap can touch, only compression noise.
    // --metrics-only measures the export again (the old names of the segmentation are still understood).
    const measured = await runCli(
      ['convert', project, '--input', video, '--output', output, '--segmentation', 'EYES', '--metrics-only', '--json'],
      { FACEPARTS_HOME: home },
    );
    expect(measured.code, measured.stdout + measured.stderr).toBe(0);
    const again = JSON.parse(readFileSync(`${output}.metrics.json`, 'utf8')) as typeof quality & {
      measuredFrom: string;
      jitterRawPx: number;
    };
    expect(again.measuredFrom).toBe('encoded file');
    expect(again.outsideMask.framesCompared).toBe(275);
    expect(again.jitterRawPx).toBe(metrics.jitterRawPx);
    expect(again.outsideMask.changed / again.outsideMask.pixels).toBeLessThan(1e-5);

    // The measure can fail: a white square drawn away from the face in frames 100-129 of a copy of the export.
    const tampered = path.join(root, 'out', 'tampered.mp4');
    execFileSync(requireTool('ffmpeg'), [
      '-v',
      'error',
      '-y',
      '-i',
      output,
      '-vf',
      "drawbox=x=600:y=10:w=24:h=24:color=white:t=fill:enable='between(n,100,129)'",
      '-c:v',
      'libx264',
      '-crf',
      '16',
      '-pix_fmt',
      'yuv420p',
      '-c:a',
      'copy',
      tampered,
    ]);
    cpSync(`${output}.track.json`, `${tampered}.track.json`);
    const caught = await runCli(
      [
        'convert',
        project,
        '--input',
        video,
        '--output',
        tampered,
        '--segmentation',
        'EYES_ONLY',
        '--metrics-only',
        '--json',
      ],
      { FACEPARTS_HOME: home },
    );
    expect(caught.code, caught.stdout + caught.stderr).toBe(0);
    const flagged = JSON.parse(readFileSync(`${tampered}.metrics.json`, 'utf8')) as typeof quality;
    expect(flagged.outsideMask.changed).toBeGreaterThan(30 * 24 * 24 * 0.8);
  });

  it('a range export keeps the matching audio, in sync, and is measured against the same frames by index', async () => {
    const output = path.join(root, 'range', 'range.mp4');
    mkdirSync(path.dirname(output), { recursive: true });
    const args = [
      'convert',
      project,
      '--input',
      video,
      '--output',
      output,
      '--start_frame',
      '150',
      '--end_frame',
      '210',
    ];
    const result = await runCli([...args, '--json'], { FACEPARTS_HOME: home });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    recordSync(expectSameTiming('convert frames 150-210 (CLI)', probeAv(video), probeAv(output), 150, 210, 'constant'));
    const metrics = JSON.parse(readFileSync(`${output}.metrics.json`, 'utf8')) as {
      frames: number;
      framesSwapped: number;
      sync: { firstFrameSeconds: number; audioOffsetSeconds: number };
    };
    expect(metrics.frames).toBe(61);
    expect(metrics.framesSwapped).toBeGreaterThan(10);
    expect(metrics.sync.firstFrameSeconds).toBeCloseTo((10214 + 150 * 400) / 11988, 5);
    expect(metrics.sync.audioOffsetSeconds).toBe(0);
    // Measured from the file: output frame j against input frame 150 + j. Paired by time instead (the export starts
    // at 0, input frame 150 at 5.856 s), every frame would differ outside the face.
    const measured = await runCli([...args, '--metrics-only', '--json'], { FACEPARTS_HOME: home });
    expect(measured.code, measured.stdout + measured.stderr).toBe(0);
    const again = JSON.parse(readFileSync(`${output}.metrics.json`, 'utf8')) as {
      pairedBy: string;
      outsideMask: { framesCompared: number; pixels: number; changed: number };
    };
    expect(again.pairedBy).toMatch(/frame index/);
    expect(again.outsideMask.framesCompared).toBe(61);
    expect(again.outsideMask.changed / again.outsideMask.pixels).toBeLessThan(1e-5);
  });

  it('a cancelled export leaves no output and no partial file', async () => {
    const output = path.join(root, 'cancelled', 'face.mp4');
    mkdirSync(path.dirname(output), { recursive: true });
    const engine = startEngine(home);
    try {
      const swapping = nextMessage(
        engine,
        (m) =>
          m.kind === 'event' &&
          (m.event as { type: string; stage?: string; done?: number }).stage === 'swap faces' &&
          ((m.event as { done: number }).done ?? 0) >= 20,
        90_000,
      );
      const job = await engine.client.request('jobs.start', {
        dir: project,
        job: { type: 'convert', input: video, output },
      });
      await swapping;
      const ended = nextMessage(
        engine,
        (m) =>
          m.kind === 'event' &&
          (m.event as { type: string; job?: { state: string } }).type === 'job.state' &&
          ['cancelled', 'completed', 'failed'].includes((m.event as { job: { state: string } }).job.state),
      );
      await engine.client.request('jobs.cancel', { jobId: job.id });
      expect(((await ended).event as { job: { state: string } }).job.state).toBe('cancelled');
    } finally {
      await engine.stop();
    }
    expect(existsSync(output)).toBe(false);
    expect(readdirSync(path.dirname(output))).toEqual([]);
  });

  it('SIGKILL during an export: no output appears, reopening removes the partial file, and the export can be made again', async () => {
    const output = path.join(root, 'killed', 'face.mp4');
    mkdirSync(path.dirname(output), { recursive: true });
    const engine = startEngine(home);
    const swapping = nextMessage(
      engine,
      (m) =>
        m.kind === 'event' &&
        (m.event as { type: string; stage?: string; done?: number }).stage === 'swap faces' &&
        ((m.event as { done: number }).done ?? 0) >= 30,
      90_000,
    );
    await engine.client.request('jobs.start', {
      dir: project,
      job: { type: 'convert', input: video, output, config: { end_frame: 120 } },
    });
    await swapping;
    engine.child.kill('SIGKILL');
    await engine.exited;
    expect(existsSync(output)).toBe(false);
    // The encoder's temp file (a dot-file beside the output) is all there is, until the project is reopened.
    const info = await runCli(['info', project, '--json'], { FACEPARTS_HOME: home });
    expect(info.code).toBe(0);
    expect(readdirSync(path.dirname(output))).toEqual([]);
    const again = await runCli(
      [
        'convert',
        project,
        '--input',
        video,
        '--output',
        output,
        '--end_frame',
        '120',
        '--synthetic_label',
        'true',
        '--json',
      ],
      { FACEPARTS_HOME: home },
    );
    expect(again.code, again.stderr).toBe(0);
    expect(readdirSync(path.dirname(output)).sort()).toEqual([
      'face.mp4',
      'face.mp4.metrics.json',
      'face.mp4.track.json',
    ]);
    // The visible label: the lower-left corner of the first frame now carries light text on a dark tag.
    const first = async (file: string): Promise<Buffer> =>
      (await decodeFrames(await probeSource(file), { stride: 1, startIndex: 0 }).next()).value?.rgb as Buffer;
    const [src, out] = [await first(video), await first(output)];
    let stamped = 0;
    for (let y = 300; y < 352; y += 1)
      for (let x = 8; x < 220; x += 1)
        if (Math.abs((src[(y * 640 + x) * 3] as number) - (out[(y * 640 + x) * 3] as number)) > 60) stamped += 1;
    expect(stamped).toBeGreaterThan(300);
    recordReliability('SIGKILL during conversion', { faults: 1 });
  });

  it('previews one converted frame: before, after and mask images, different inside the face only', async () => {
    const engine = startEngine(home);
    try {
      const frames = await engine.client.request('frames.list', { dir: project, side: 'a' });
      const kept = frames.frames.find((f) => f.status === 'kept');
      expect(kept).toBeDefined();
      const preview = await engine.client.request('convert.preview', {
        dir: project,
        side: 'a',
        frameIndex: kept?.index as number,
        config: { segmentation: 'MOUTH' },
      });
      const sharp = (await import('sharp')).default;
      const before = await sharp(path.join(project, preview.before)).raw().toBuffer({ resolveWithObject: true });
      const after = await sharp(path.join(project, preview.after)).raw().toBuffer({ resolveWithObject: true });
      expect(after.info).toMatchObject({ width: before.info.width, height: before.info.height });
      let changed = 0;
      for (let i = 0; i < before.data.length; i += 1) if (before.data[i] !== after.data[i]) changed += 1;
      expect(changed).toBeGreaterThan(50);
      expect(changed / before.data.length).toBeLessThan(0.2);
      const mask = await sharp(path.join(project, preview.mask)).stats();
      expect(mask.channels[0]?.max).toBeGreaterThan(100);
    } finally {
      await engine.stop();
    }
  });

  it('honours a hand-edited mask: the eyes moved to a square on the chin change there, not at the eyes', async () => {
    const engine = startEngine(home);
    try {
      const frames = await engine.client.request('frames.list', { dir: project, side: 'a' });
      const frameIndex = frames.frames.find((f) => f.status === 'kept')?.index as number;
      const face = (await engine.client.request('faces.list', { dir: project, side: 'a', frameIndex })).faces.find(
        (f) => f.status === 'kept',
      );
      expect(face).toBeDefined();
      const faceId = face?.id as number;
      const sharp = (await import('sharp')).default;
      const maskOf = async (): Promise<{ data: Buffer; size: number }> => {
        const preview = await engine.client.request('convert.preview', {
          dir: project,
          side: 'a',
          frameIndex,
          config: { segmentation: 'EYES_ONLY' },
        });
        const { data, info } = await sharp(path.join(project, preview.mask))
          .extractChannel(0)
          .raw()
          .toBuffer({ resolveWithObject: true });
        return { data, size: info.width };
      };
      const automatic = await maskOf();
      // Aligned-crop pixels (256): a square on the chin, well below the eyes and the mouth's corners.
      const square = { x0: 108, x1: 148, y0: 160, y1: 185 };
      await engine.client.request('masks.saveEdit', {
        dir: project,
        faceId,
        part: 'eyes',
        polygon: [
          [square.x0, square.y0],
          [square.x1, square.y0],
          [square.x1, square.y1],
          [square.x0, square.y1],
        ],
        rasterPng: null,
      });
      const edited = await maskOf();
      await engine.client.request('masks.reset', { dir: project, faceId });
      // The patch is the crop's trained region at roi_coverage 0.9 (the default).
      const r = edited.size;
      const [from, to] = trainedRegion(0.9);
      const s = r / (to - from);
      const inSquare = (x: number, y: number): boolean =>
        x >= (square.x0 - from) * s - 3 &&
        x <= (square.x1 - from) * s + 3 &&
        y >= (square.y0 - from) * s - 3 &&
        y <= (square.y1 - from) * s + 3;
      const centre =
        Math.round(((square.y0 + square.y1) / 2 - from) * s) * r + Math.round(((square.x0 + square.x1) / 2 - from) * s);
      // The preview's mask is the blend mask, the region times the young model's attention (about 0.3 to 0.6).
      expect(automatic.data[centre]).toBeLessThan(10);
      expect(edited.data[centre]).toBeGreaterThan(50);
      let eyesBefore = 0;
      let eyesAfter = 0;
      for (let y = 0; y < r; y += 1)
        for (let x = 0; x < r; x += 1) {
          if (inSquare(x, y)) continue;
          eyesBefore += automatic.data[y * r + x] as number;
          eyesAfter += edited.data[y * r + x] as number;
        }
      expect(eyesBefore).toBeGreaterThan(1000);
      expect(eyesAfter).toBeLessThan(eyesBefore * 0.05);
    } finally {
      await engine.stop();
    }
  });

  it('an export again in the same engine starts with the last export models and tracking kept (a failed export between them too), and picks up a retrained model', async () => {
    const dir = path.join(root, 'kept');
    mkdirSync(dir, { recursive: true });
    // No tracking pass kept from the tests above: the first export here follows the faces itself.
    rmSync(path.join(project, TRACKING_CACHE_DIR), { recursive: true, force: true });
    /** md5 of the decoded frames (ffmpeg's own decoder). */
    const framesMd5 = (file: string): string =>
      execFileSync(requireTool('ffmpeg'), ['-v', 'error', '-i', file, '-map', '0:v', '-f', 'md5', '-'])
        .toString()
        .trim();
    const engine = startEngine(home);
    const exportIn = async (
      name: string,
      config: Record<string, unknown> = {},
    ): Promise<{ file: string; modelsKept: unknown; trackingKept: unknown }> => {
      const file = path.join(dir, name);
      const job = await runJobThrough(engine, project, {
        type: 'convert',
        input: video,
        output: file,
        config: { end_frame: 40, ...config },
      });
      expect(job.state, JSON.stringify(job.error)).toBe('completed');
      const pipeline = job.result?.pipeline as { modelsKept: unknown; trackingKept: unknown };
      return { file, modelsKept: pipeline.modelsKept, trackingKept: pipeline.trackingKept };
    };
    try {
      const first = await exportIn('first.mp4');
      // An export that fails its checks (no such output folder) while the models load leaves them kept.
      const failed = await runJobThrough(engine, project, {
        type: 'convert',
        input: video,
        output: path.join(dir, 'no-such-folder', 'x.mp4'),
        config: { end_frame: 40 },
      });
      expect(failed.state).toBe('failed');
      expect(JSON.stringify(failed.error)).toMatch(/output folder/);
      const second = await exportIn('second.mp4');
      expect([first.modelsKept, first.trackingKept]).toEqual([false, false]);
      expect([second.modelsKept, second.trackingKept]).toEqual([true, true]);
      // The kept models and tracking make the same export as the first, which found everything itself.
      expect(framesMd5(second.file)).toBe(framesMd5(first.file));
      // Another detection threshold: the faces are followed again.
      expect((await exportIn('threshold.mp4', { detection_threshold: 0.7 })).trackingKept).toBe(false);

      // One more iteration rewrites the model: the kept pool must draw with the new one, as a fresh engine does.
      const retrained = await trainTiny(3);
      expect(retrained.code, retrained.stdout + retrained.stderr).toBe(0);
      const third = await exportIn('third.mp4');
      expect([third.modelsKept, third.trackingKept]).toEqual([true, true]);
      const fresh = path.join(dir, 'fresh.mp4');
      const made = await runCli(
        ['convert', project, '--input', video, '--output', fresh, '--end_frame', '40', '--json'],
        { FACEPARTS_HOME: home },
      );
      expect(made.code, made.stderr).toBe(0);
      expect(framesMd5(third.file)).toBe(framesMd5(fresh));
      expect(framesMd5(third.file)).not.toBe(framesMd5(first.file));
    } finally {
      await engine.stop();
    }
  }, 300_000);

  it('rejects invalid converter values, listing the allowed ones', async () => {
    const result = await runCli(
      ['convert', project, '--input', video, '--output', path.join(root, 'x.mp4'), '--output_type', 'QUAD', '--json'],
      { FACEPARTS_HOME: home },
    );
    expect(result.code).toBe(2);
    expect((result.json.error as { message: string }).message).toMatch(/SINGLE.*COMBINED.*TRIPLE/);
  });
});
