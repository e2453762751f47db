import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeFrames } from '../../src-main/engine/media/decode.js';
import { probeSource } from '../../src-main/engine/media/probe.js';
import { resolveTools } from '../../src-main/engine/media/tools.js';
import { copyMedia, media, scratch } from '../helpers/paths.js';

afterEach(() => {
  delete process.env.FACEPARTS_FFMPEG;
});

describe('ffmpeg resolution', () => {
  it('finds a working ffmpeg and ffprobe and says what it tried', () => {
    const tools = resolveTools({}, true);
    expect(tools.ffmpeg).not.toBeNull();
    expect(tools.ffprobe).not.toBeNull();
    expect(tools.tried.some((t) => t.endsWith('ok'))).toBe(true);
  });

  it('skips an explicit binary that does not exist and falls back, recording why', () => {
    process.env.FACEPARTS_FFMPEG = '/nowhere/ffmpeg';
    const tools = resolveTools({}, true);
    expect(tools.tried[0]).toMatch(/FACEPARTS_FFMPEG: \/nowhere\/ffmpeg does not exist/);
    expect(tools.ffmpeg).not.toBe('/nowhere/ffmpeg');
    resolveTools({}, true);
  });
});

describe('probing sources', () => {
  it('reads the sample video: size, fps, frames, audio', async () => {
    const probed = await probeSource(media('whitehouse_performance_360p.mp4'));
    expect(probed.kind).toBe('video');
    expect(probed.media).toMatchObject({
      displayWidth: 640,
      displayHeight: 360,
      rotation: 0,
      hasAudio: true,
      codec: 'h264',
    });
    expect(probed.media.fps).toBeCloseTo(29.97, 2);
    expect(probed.media.frameCount).toBeGreaterThan(270);
    expect(probed.media.durationSeconds).toBeCloseTo(9.2, 0);
  });

  it('reads an image folder in natural order', async () => {
    const dir = scratch('probe-images');
    copyFileSync(media('b_biden_2.jpg'), path.join(dir, 'img10.jpg'));
    copyFileSync(media('b_biden_1.jpg'), path.join(dir, 'img2.jpg'));
    writeFileSync(path.join(dir, 'notes.txt'), 'ignored');
    const probed = await probeSource(dir);
    expect(probed.kind).toBe('images');
    expect(probed.images.map((p) => path.basename(p))).toEqual(['img2.jpg', 'img10.jpg']);
    expect(probed.media.frameCount).toBe(2);
  });

  it.each([
    [
      'a text file',
      (dir: string) => writeFileSync(path.join(dir, 'x.mp4'), 'not a video at all'),
      /not a readable video/,
    ],
    ['an empty file', (dir: string) => writeFileSync(path.join(dir, 'x.mp4'), ''), /empty \(0 bytes\)/],
    [
      'a truncated header',
      (dir: string) =>
        writeFileSync(
          path.join(dir, 'x.mp4'),
          readFileSync(media('whitehouse_performance_360p.mp4')).subarray(0, 2000),
        ),
      /not a readable video|no decodable/,
    ],
  ])('rejects %s naming the file and the fix', async (_label, make, pattern) => {
    const dir = scratch('probe-bad');
    make(dir);
    const file = path.join(dir, 'x.mp4');
    await expect(probeSource(file)).rejects.toMatchObject({
      code: 'BAD_MEDIA',
      file,
      message: expect.stringMatching(pattern),
      fix: expect.any(String),
    });
  });

  it('rejects a missing path and an empty folder', async () => {
    await expect(probeSource('/no/such/video.mp4')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(probeSource(scratch('probe-empty'))).rejects.toMatchObject({
      code: 'BAD_MEDIA',
      message: expect.stringMatching(/no images/),
    });
  });
});

describe('decoding frames', () => {
  it('decodes the video with a stride and from a resume point, frames matching the probe', async () => {
    const probed = await probeSource(media('whitehouse_performance_360p.mp4'));
    const indexes: number[] = [];
    for await (const frame of decodeFrames(probed, { stride: 50, startIndex: 60 })) {
      expect(frame.rgb?.length).toBe(640 * 360 * 3);
      indexes.push(frame.index);
      // A real frame, not a blank: pixel values vary.
      const rgb = frame.rgb as Buffer;
      let min = 255;
      let max = 0;
      for (let i = 0; i < rgb.length; i += 997) {
        min = Math.min(min, rgb[i] as number);
        max = Math.max(max, rgb[i] as number);
      }
      expect(max - min).toBeGreaterThan(50);
    }
    expect(indexes).toEqual([100, 150, 200, 250]);
  });

  it('keeps going past an unreadable image, reporting it by name', async () => {
    const dir = scratch('decode-images');
    copyMedia(dir, ['b_biden_2.jpg']);
    writeFileSync(path.join(dir, 'broken.jpg'), 'garbage');
    const probed = await probeSource(dir);
    const frames = [];
    for await (const frame of decodeFrames(probed, { stride: 1, startIndex: 0 })) frames.push(frame);
    expect(frames).toHaveLength(2);
    const broken = frames.find((f) => f.rgb === null);
    expect(broken?.error).toMatch(/broken\.jpg/);
    expect(frames.find((f) => f.rgb !== null)?.width).toBeGreaterThan(100);
  });
});
