/**
 * The export check alongside the encoder (metrics/outside-mask.ts LiveExportCheck) gives the same figures as the
 * check from the finished file, on the sample clip: a block painted on a few frames (outside any face, so every
 * pixel of it counts as changed) is found by both, to the pixel. The encoder's copy goes through the tee muxer, so
 * an output path with its special characters must still land where asked; and a check whose copy breaks off
 * gives way to the file check without holding up the export.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConverterConfig } from '../../src-shared/contract/index.js';
import { FramePool, decodeFrames } from '../../src-main/engine/media/decode.js';
import { VideoWriter, teeOutputPath } from '../../src-main/engine/media/encoder.js';
import { probeSource } from '../../src-main/engine/media/probe.js';
import { exportTiming, probeTiming } from '../../src-main/engine/media/timing.js';
import {
  LiveExportCheck,
  measureOutsideMask,
  type ComparisonSetup,
} from '../../src-main/engine/metrics/outside-mask.js';
import { copyMedia, scratch } from '../helpers/paths.js';

const FRAMES = 40;
/** Frames that get the painted block, and the block (frame pixels). */
const PAINTED = new Set([10, 11, 12, 25]);
const BLOCK = { x: 20, y: 30, width: 40, height: 24 };

/** Encode the clip's first FRAMES frames, the block painted white on PAINTED; the live check fed as the job feeds it. */
async function exportClip(
  input: string,
  output: string,
  live: boolean,
  { breakCopyAfter = null, columns = 1 }: { breakCopyAfter?: number | null; columns?: 1 | 2 } = {},
): Promise<{ alongside: Awaited<LiveExportCheck['result']> | null; setup: ComparisonSetup }> {
  const source = await probeSource(input);
  const timing = await probeTiming(input);
  const range = { start: 0, end: FRAMES - 1 };
  const { displayWidth: w, displayHeight: h } = source.media;
  const writer = new VideoWriter(output, w * columns, h, exportTiming(timing, range), null, { encodedCopy: live });
  const setup: ComparisonSetup = {
    width: w,
    height: h,
    fps: source.media.fps,
    start: 0,
    placements: Array.from({ length: FRAMES }, () => null),
    resolution: 64,
    config: ConverterConfig.parse({}),
    overrides: new Map(),
    columns,
  };
  const pool = new FramePool(64);
  const check = writer.encodedStream ? new LiveExportCheck(setup, writer.encodedStream, pool) : null;
  let written = 0;
  for await (const frame of decodeFrames(source, { stride: 1, startIndex: 0, pool })) {
    if (frame.index >= FRAMES) break;
    const rgb = frame.rgb as Buffer;
    const result = Buffer.from(rgb);
    if (PAINTED.has(frame.index))
      for (let y = BLOCK.y; y < BLOCK.y + BLOCK.height; y += 1)
        result.fill(255, (y * w + BLOCK.x) * 3, (y * w + BLOCK.x + BLOCK.width) * 3);
    // COMBINED: source | result, side by side.
    const laid = columns === 1 ? result : Buffer.alloc(w * 2 * h * 3);
    if (columns === 2)
      for (let y = 0; y < h; y += 1) {
        rgb.copy(laid, y * w * 6, y * w * 3, (y + 1) * w * 3);
        result.copy(laid, y * w * 6 + w * 3, y * w * 3, (y + 1) * w * 3);
      }
    if (check) await check.add(rgb);
    else pool.release(rgb);
    await writer.write(laid);
    written += 1;
    if (written === breakCopyAfter) writer.encodedStream?.destroy();
  }
  check?.end();
  await writer.finish();
  return { alongside: check ? await check.result : null, setup };
}

describe('the export check alongside the encoder', () => {
  let dir: string;
  let input: string;

  beforeAll(() => {
    dir = scratch('live-check');
    [input] = copyMedia(path.join(dir, 'media'), ['whitehouse_performance_360p.mp4']) as [string];
  });

  it('gives the file check’s figures, to the pixel, for an output whose path has the tee muxer’s special characters', async () => {
    const odd = path.join(dir, "it's [a|b]");
    mkdirSync(odd, { recursive: true });
    const output = path.join(odd, 'export.mp4');
    const { alongside, setup } = await exportClip(input, output, true);
    expect(existsSync(output)).toBe(true);
    const fromFiles = await measureOutsideMask({
      ...setup,
      encoded: await probeSource(output),
      input: await probeSource(input),
    });
    expect(alongside).not.toBeNull();
    expect(alongside).toEqual(fromFiles);
    expect(fromFiles.framesCompared).toBe(FRAMES);
    // The painted block is a change: most of its pixels on every painted frame, and little besides (the codec).
    const blockPixels = BLOCK.width * BLOCK.height * PAINTED.size;
    expect(fromFiles.changed).toBeGreaterThan(0.8 * blockPixels);
    expect(fromFiles.changed).toBeLessThan(1.2 * blockPixels);
  });

  it('gives way to the file check when the encoder’s copy breaks off, and the export is whole', async () => {
    const output = path.join(dir, 'broken-copy.mp4');
    const { alongside } = await exportClip(input, output, true, { breakCopyAfter: 5 });
    expect(alongside).toBeNull();
    const frames = [];
    for await (const frame of decodeFrames(await probeSource(output), { stride: 1, startIndex: 0 }))
      frames.push(frame.index);
    expect(frames.length).toBe(FRAMES);
  });

  it('compares the result column of a side-by-side export, as the file check does', async () => {
    const output = path.join(dir, 'combined.mp4');
    const { alongside, setup } = await exportClip(input, output, true, { columns: 2 });
    const fromFiles = await measureOutsideMask({
      ...setup,
      encoded: await probeSource(output),
      input: await probeSource(input),
    });
    expect(alongside).toEqual(fromFiles);
    expect(fromFiles.changed).toBeGreaterThan(0.8 * BLOCK.width * BLOCK.height * PAINTED.size);
  });

  it('escapes only what the tee muxer reads specially', () => {
    expect(teeOutputPath('/a/b c/x.mp4')).toBe('/a/b c/x.mp4');
    expect(teeOutputPath("/a/it's [a|b]/x.mp4")).toBe("/a/it\\'s [a\\|b]/x.mp4");
    expect(teeOutputPath('C:\\out\\x.mp4')).toBe('C:\\\\out\\\\x.mp4');
  });
});
