/**
 * Exports keep the source's audio in sync with its video (#19), for whole clips and ranges (#12): the shared clip
 * (video starts 0.852 s in, audio at 0.008 s) and generated clips with known offsets both ways, an edit list and a
 * variable frame rate. Each export runs the conversion's own encoding path (frame timing, NUT pipe, audio cut)
 * without the face model; every measure is ffprobe's, on the files.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { VideoWriter } from '../../src-main/engine/media/encoder.js';
import { decodeFrames } from '../../src-main/engine/media/decode.js';
import { probeSource } from '../../src-main/engine/media/probe.js';
import { exportTiming, probeTiming, seekPoint } from '../../src-main/engine/media/timing.js';
import { rawRgbDecodeArgs } from '../../src-main/engine/media/ffmpeg-args.js';
import { resolveTools } from '../../src-main/engine/media/tools.js';
import { expectSameTiming, probeAv, recordSync } from '../helpers/av-sync.js';
import { copyMedia, scratch } from '../helpers/paths.js';

const ffmpeg = (args: string[]): void => {
  execFileSync(resolveTools().ffmpeg as string, ['-v', 'error', '-y', ...args]);
};

/**
 * What runConvert does around the face swap: frames in presentation order, written with the source's timing;
 * `encodedCopy`: as conversions of frames up to 1080p write, through the tee muxer with a copy for the export check
 * (drained here).
 */
async function exportRange(
  input: string,
  output: string,
  start: number,
  end: number,
  encodedCopy: boolean,
): Promise<void> {
  const source = await probeSource(input);
  const timing = await probeTiming(input);
  const last = Math.min(source.media.frameCount, timing.framePts.length) - 1;
  const range = { start: Math.min(start, last), end: Math.min(end, last) };
  const { displayWidth: w, displayHeight: h } = source.media;
  const writer = new VideoWriter(output, w, h, exportTiming(timing, range), source.media.hasAudio ? input : null, {
    encodedCopy,
  });
  writer.encodedStream?.resume();
  for await (const frame of decodeFrames(source, { stride: 1, startIndex: range.start })) {
    if (frame.index > range.end) break;
    await writer.write(frame.rgb ?? new Uint8Array(w * h * 3));
  }
  await writer.finish();
}

/** Raw RGB of the presented frames with these indices, decoded by ffmpeg itself (not by the code under test). */
function framesAt(file: string, w: number, h: number, indices: number[]): Map<number, Buffer> {
  const wanted = [...new Set(indices)].sort((a, b) => a - b);
  const select = `select='${wanted.map((i) => `eq(n\\,${i})`).join('+')}'`;
  const raw = execFileSync(resolveTools().ffmpeg as string, rawRgbDecodeArgs(file, { filter: select, output: '-' }), {
    maxBuffer: 256 * 1024 * 1024,
  });
  const size = w * h * 3;
  return new Map(wanted.map((index, k) => [index, raw.subarray(k * size, (k + 1) * size)]));
}

/** Share of pixels that differ clearly (beyond re-encoding noise): ~0 for the same picture. */
const changed = (a: Buffer, b: Buffer): number => {
  let count = 0;
  for (let i = 0; i < a.length; i += 3) {
    const d = Math.max(
      Math.abs((a[i] as number) - (b[i] as number)),
      Math.abs((a[i + 1] as number) - (b[i + 1] as number)),
      Math.abs((a[i + 2] as number) - (b[i + 2] as number)),
    );
    if (d > 64) count += 1;
  }
  return count / (a.length / 3);
};

describe('exports keep the source timing (audio in sync with the frames)', () => {
  let dir: string;
  const clips: Record<string, string> = {};

  beforeAll(() => {
    dir = scratch('av-sync');
    [clips.sample] = copyMedia(path.join(dir, 'media'), ['whitehouse_performance_360p.mp4']) as [string];
    const at = (name: string): string => path.join(dir, name);
    // A white bar that moves 13 px a frame: every frame's picture differs clearly from its neighbours'.
    const picture = (rate: string): string[] => [
      '-f',
      'lavfi',
      '-i',
      `testsrc=size=160x120:rate=${rate}[t];color=white:size=8x120:rate=${rate}[b];[t][b]overlay=x='mod(n*13\\,152)'`,
    ];
    // Noise audio: no two AAC packets alike, so each output packet names its source packet.
    const noise = ['-f', 'lavfi', '-i', 'anoisesrc=color=pink:seed=7:amplitude=0.3:sample_rate=44100'];
    const x264 = ['-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', '-c:a', 'aac'];
    ffmpeg([...picture('25'), ...noise, '-t', '3', ...x264, at('base.mp4')]);
    // -itsoffset both ways, streams copied: audio 0.5 s after the video, and the video 0.5 s after the audio.
    clips.audioLate = at('audio-late.mp4');
    ffmpeg([
      '-i',
      at('base.mp4'),
      '-itsoffset',
      '0.5',
      '-i',
      at('base.mp4'),
      '-map',
      '0:v',
      '-map',
      '1:a',
      '-c',
      'copy',
      clips.audioLate,
    ]);
    clips.videoLate = at('video-late.mp4');
    ffmpeg([
      '-itsoffset',
      '0.5',
      '-i',
      at('base.mp4'),
      '-i',
      at('base.mp4'),
      '-map',
      '0:v',
      '-map',
      '1:a',
      '-c',
      'copy',
      clips.videoLate,
    ]);
    // Cut from a longer B-frame recording without re-encoding: an edit list hides the frames before the cut.
    ffmpeg([...picture('30000/1001'), ...noise, '-t', '6', ...x264, '-g', '48', at('long.mp4')]);
    clips.editList = at('edit-list.mp4');
    ffmpeg(['-ss', '1.37', '-i', at('long.mp4'), '-c', 'copy', '-t', '3', clips.editList]);
    // Open GOPs with B-frames (Matroska, no edit list): frames after a keyframe may precede it in presentation.
    clips.openGop = at('open-gop.mkv');
    ffmpeg([
      ...picture('30000/1001'),
      '-t',
      '4',
      '-c:v',
      'libx264',
      '-preset',
      'veryfast',
      '-pix_fmt',
      'yuv420p',
      '-x264opts',
      'open_gop=1:keyint=40:bframes=3',
      clips.openGop,
    ]);
    // Variable frame rate: 30 fps for a second, then every third frame, and one odd frame between.
    clips.vfr = at('vfr.mp4');
    ffmpeg([
      ...picture('30'),
      ...noise,
      '-t',
      '3',
      '-vf',
      "select='lt(n\\,30)+not(mod(n\\,3))+eq(n\\,61)'",
      '-vsync',
      'vfr',
      ...x264,
      clips.vfr,
    ]);
  });

  it('the generated clips are what they claim (measured, not assumed)', () => {
    const audioLate = probeAv(clips.audioLate as string);
    expect((audioLate.audioStart as number) - (audioLate.videoPts[0] as number)).toBeGreaterThan(0.4);
    const videoLate = probeAv(clips.videoLate as string);
    expect((videoLate.audioStart as number) - (videoLate.videoPts[0] as number)).toBeLessThan(-0.4);
    const sample = probeAv(clips.sample as string);
    expect((sample.audioStart as number) - (sample.videoPts[0] as number)).toBeCloseTo(-0.844, 3);
    // The edit list: the file holds more frames than it shows.
    const packets = execFileSync(resolveTools().ffprobe as string, [
      '-v',
      'error',
      '-select_streams',
      'v:0',
      '-show_entries',
      'packet=flags',
      '-of',
      'csv=p=0',
      clips.editList as string,
    ]).toString();
    expect(packets.split('\n').filter((f) => f.includes('D')).length).toBeGreaterThan(10);
    const vfr = probeAv(clips.vfr as string).videoPts;
    const gaps = new Set(vfr.slice(1).map((t, i) => Math.round((t - (vfr[i] as number)) * 1000)));
    expect(gaps.size).toBeGreaterThan(2);
  });

  it.each(['sample', 'audioLate', 'videoLate', 'editList', 'vfr', 'openGop'])(
    "%s: a decoder that seeks to a frame (the tracking pass's later parts) starts on exactly that frame",
    async (clip) => {
      const input = clips[clip] as string;
      const source = await probeSource(input);
      const timing = await probeTiming(input);
      const { displayWidth: w, displayHeight: h } = source.media;
      const count = Math.min(source.media.frameCount, timing.framePts.length);
      // The second frame, frames around a third and the middle (keyframes or not), the last but two.
      const starts = [
        ...new Set([1, Math.floor(count / 3), Math.floor(count / 3) + 1, Math.floor(count / 2), count - 3]),
      ];
      const sequential = framesAt(
        input,
        w,
        h,
        starts.flatMap((k) => [k, k + 1, k + 2]),
      );
      for (const k of starts) {
        const seek = seekPoint(timing, k);
        expect(seek, `${clip}: frame ${k} has a time to seek to`).not.toBeNull();
        const got: Buffer[] = [];
        for await (const frame of decodeFrames(source, { stride: 1, startIndex: k, seek: seek ?? undefined })) {
          got.push(Buffer.from(frame.rgb as Buffer));
          if (got.length === 3) break;
        }
        got.forEach((picture, j) =>
          expect(picture.equals(sequential.get(k + j) as Buffer), `${clip}: frame ${k + j} after seeking to ${k}`).toBe(
            true,
          ),
        );
        expect(got.length).toBe(3);
      }
    },
  );

  describe.each([
    ['the file alone', false],
    ['with the export check’s copy (tee muxer)', true],
  ])('written %s', (mode, encodedCopy) => {
    it.each([
      ['sample', 'sample', 0, Infinity, 'constant'],
      ['sample, frames 100-200', 'sample', 100, 200, 'constant'],
      ['audio 0.5 s after the video', 'audioLate', 0, Infinity, 'constant'],
      ['audio 0.5 s after the video, frames 5-60 (audio starts later than frame 5)', 'audioLate', 5, 60, 'constant'],
      ['video 0.5 s after the audio', 'videoLate', 0, Infinity, 'constant'],
      ['edit list', 'editList', 0, Infinity, 'constant'],
      ['edit list, frames 20-70', 'editList', 20, 70, 'constant'],
      ['variable frame rate', 'vfr', 0, Infinity, 'variable'],
      ['variable frame rate, frames 25-45', 'vfr', 25, 45, 'variable'],
      ['sample, frames 100-200, to MKV (no edit lists)', 'sample', 100, 200, 'constant'],
    ])('%s', async (label, clip, start, end, rate) => {
      const input = clips[clip] as string;
      const mkv = label.includes('MKV');
      const output = path.join(dir, 'out', `${`${mode} ${label}`.replace(/[^a-z0-9]+/gi, '-')}.${mkv ? 'mkv' : 'mp4'}`);
      mkdirSync(path.dirname(output), { recursive: true });
      await exportRange(input, output, start, end, encodedCopy as boolean);
      const source = probeAv(input);
      const last = Math.min(end, source.videoPts.length - 1);
      // Matroska counts in milliseconds and stores no stream duration.
      const options = mkv ? { tolerance: 0.001, streamDuration: false } : {};
      const report = expectSameTiming(
        label,
        source,
        probeAv(output),
        start,
        last,
        rate as 'constant' | 'variable',
        options,
      );
      recordSync(report);
      // Frame j of the export is the picture of source frame start + j (decoded by ffmpeg, compared by index), told
      // apart from its neighbours where they differ (a still scene proves nothing either way).
      const { displayWidth: w, displayHeight: h } = (await probeSource(input)).media;
      const count = last - start + 1;
      const picks = [0, 1, Math.floor(count / 3), Math.floor(count / 2), count - 2, count - 1].filter(
        (j, i, all) => j >= 0 && j < count && all.indexOf(j) === i,
      );
      const near = (j: number): number => start + j + (j === 0 ? 1 : -1);
      const src = framesAt(
        input,
        w,
        h,
        picks.flatMap((j) => [start + j, near(j)]),
      );
      const out = framesAt(output, w, h, picks);
      let conclusive = 0;
      for (const j of picks) {
        const picture = out.get(j) as Buffer;
        const neighbour = changed(picture, src.get(near(j)) as Buffer);
        if (neighbour < 0.002) continue;
        conclusive += 1;
        expect(changed(picture, src.get(start + j) as Buffer), `${label}: output frame ${j}`).toBeLessThan(
          neighbour / 5,
        );
      }
      expect(conclusive, `${label}: frames that differ from their neighbours`).toBeGreaterThan(0);
    });
  });
});
