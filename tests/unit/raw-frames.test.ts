import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { sharedBuffer } from '../../src-main/engine/media/decode.js';
import { rawRgbDecodeArgs } from '../../src-main/engine/media/ffmpeg-args.js';
import { startRawDecoder } from '../../src-main/engine/media/raw-frames.js';
import { requireTool } from '../../src-main/engine/media/tools.js';
import { media } from '../helpers/paths.js';

const FRAME = 640 * 360 * 3;
const fifoHere = process.platform !== 'win32';

/** Hashes of the first `limit` frames (all when null) read through one transport, and the frames read. */
async function readFrames(
  transport: 'auto' | 'stream',
  limit: number | null,
  input = media('whitehouse_performance_360p.mp4'),
) {
  const decoder = await startRawDecoder(requireTool('ffmpeg'), rawRgbDecodeArgs(input), transport);
  // ffmpeg's complaints are drained, as decode.ts does (an unread stderr would hold 'close' back).
  decoder.child.stderr?.resume();
  const hashes: string[] = [];
  const frame = sharedBuffer(FRAME);
  try {
    while (limit === null || hashes.length < limit) {
      if ((await decoder.frames.fill(frame)) < FRAME) break;
      hashes.push(createHash('sha1').update(frame).digest('hex'));
    }
  } finally {
    if (decoder.child.exitCode === null) decoder.child.kill('SIGKILL');
    await decoder.frames.close();
  }
  return { hashes, transport: decoder.transport, code: await decoder.exited };
}

describe('raw frames from ffmpeg', () => {
  it('reads the same frames through the FIFO reader thread as through stdout', async () => {
    const viaStream = await readFrames('stream', null);
    const viaAuto = await readFrames('auto', null);
    expect(viaStream.transport).toBe('stream');
    expect(viaAuto.transport).toBe(fifoHere ? 'fifo' : 'stream');
    expect(viaStream.hashes.length).toBe(275);
    expect(new Set(viaStream.hashes).size).toBeGreaterThan(200);
    expect(viaAuto.hashes).toEqual(viaStream.hashes);
  }, 60_000);

  it('stops early without hanging, and the next decoder reads from the start again', async () => {
    const first = await readFrames('auto', 3);
    expect(first.hashes).toHaveLength(3);
    // Killed before the end (the decoder does so when its consumer stops): no exit code 0.
    expect(first.code).not.toBe(0);
    const again = await readFrames('auto', 3);
    expect(again.hashes).toEqual(first.hashes);
  }, 60_000);

  it('ends at once when ffmpeg cannot read its input', async () => {
    const broken = await readFrames('auto', null, media('MEDIA.md'));
    expect(broken.hashes).toHaveLength(0);
    expect(broken.code).not.toBe(0);
  }, 30_000);
});
