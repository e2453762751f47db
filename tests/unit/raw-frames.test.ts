import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { sharedBuffer } from '../../src-main/engine/media/decode.js';
import { rawRgbDecodeArgs } from '../../src-main/engine/media/ffmpeg-args.js';
import {
  readerThreadCount,
  removeStaleFifoFolders,
  startRawDecoder,
  warmFifoReaders,
} from '../../src-main/engine/media/raw-frames.js';
import { requireTool } from '../../src-main/engine/media/tools.js';
import { copyMedia, media, scratch } from '../helpers/paths.js';

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

  it.skipIf(!fifoHere)(
    "a decoder started while a stopped one's ffmpeg still holds its FIFO open reads only its own frames",
    async () => {
      // ffmpeg started by a shell that leaves a process behind with the same stdout (the FIFO's write end): when
      // ffmpeg is killed, the pipe it wrote into stays open, with the bytes nobody read, as it does for the
      // milliseconds a killed ffmpeg takes to exit on a loaded machine.
      const input = media('whitehouse_performance_360p.mp4');
      const lingering = await startRawDecoder('/bin/sh', [
        '-c',
        '(sleep 2) & exec "$0" "$@"',
        requireTool('ffmpeg'),
        ...rawRgbDecodeArgs(input),
      ]);
      lingering.child.stderr?.resume();
      const frame = sharedBuffer(FRAME);
      expect(await lingering.frames.fill(frame)).toBe(FRAME);
      const firstFrame = createHash('sha1').update(frame).digest('hex');
      // ffmpeg fills the pipe's buffer with the next frame's bytes meanwhile.
      await new Promise((resolve) => setTimeout(resolve, 300));
      lingering.child.kill('SIGKILL');
      await lingering.frames.close();
      const next = await readFrames('auto', 2);
      expect(next.transport).toBe('fifo');
      expect(next.hashes[0]).toBe(firstFrame);
      await lingering.exited;
    },
    30_000,
  );

  it.skipIf(!fifoHere)(
    'decoders use the reader threads started ahead, then the ones others have freed',
    async () => {
      const started = readerThreadCount();
      warmFifoReaders(2);
      const [a, b] = await Promise.all([readFrames('auto', 3), readFrames('auto', 3)]);
      const c = await readFrames('auto', 3);
      // A thread a decoder: three. Two at most were started (fewer where earlier decoders had left some free).
      expect(readerThreadCount() - started).toBeLessThanOrEqual(2);
      expect([a.transport, b.transport, c.transport]).toEqual(['fifo', 'fifo', 'fifo']);
      expect(b.hashes).toEqual(a.hashes);
      expect(c.hashes).toEqual(a.hashes);
    },
    30_000,
  );

  it('ends at once when ffmpeg cannot read its input', async () => {
    const broken = await readFrames('auto', null, media('MEDIA.md'));
    expect(broken.hashes).toHaveLength(0);
    expect(broken.code).not.toBe(0);
  }, 30_000);

  it.skipIf(process.platform !== 'linux')(
    'a decoder whose reading process is killed exits (it does not wait forever on a full FIFO)',
    async () => {
      // A process that decodes a clip (under a path no other test uses), reads a frame, and is SIGKILLed, as the
      // engine can be (a crash, the app killed).
      const dir = scratch('fifo-killed');
      const [input] = copyMedia(dir, ['whitehouse_performance_360p.mp4']) as [string];
      const decode = pathToFileURL(path.resolve('dist/src-main/engine/media/decode.js')).href;
      const probe = pathToFileURL(path.resolve('dist/src-main/engine/media/probe.js')).href;
      const script = [
        `import { decodeFrames } from ${JSON.stringify(decode)};`,
        `import { probeSource } from ${JSON.stringify(probe)};`,
        `const frames = decodeFrames(await probeSource(process.argv[2]), { stride: 1, startIndex: 0 });`,
        `await frames.next();`,
        `process.kill(process.pid, 'SIGKILL');`,
      ].join('\n');
      // A script file, not `node -e`: worker threads (the FIFO's reader) do not start from an -e process.
      const file = path.join(dir, 'read-and-die.mjs');
      writeFileSync(file, script);
      const reader = spawn(process.execPath, [file, input], { stdio: 'ignore' });
      await once(reader, 'exit');
      expect(reader.signalCode).toBe('SIGKILL');
      /** Processes whose command line names the clip: its ffmpeg decoders. */
      const decoders = (): number[] =>
        readdirSync('/proc')
          .filter((name) => /^\d+$/.test(name))
          .filter((pid) => {
            try {
              return readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes(input);
            } catch {
              return false;
            }
          })
          .map(Number);
      const deadline = Date.now() + 10_000;
      while (decoders().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      const left = decoders();
      for (const pid of left) process.kill(pid, 'SIGKILL');
      expect(left).toEqual([]);
    },
    30_000,
  );

  it.skipIf(process.platform === 'win32')(
    'removes the FIFO folders of processes that no longer run, and only those',
    () => {
      const tmp = scratch('fifo-folders');
      // A pid that ran and is gone, and one that runs (this test's).
      const gone = spawnSync(process.execPath, ['-e', '']).pid as number;
      const names = {
        dead: `faceparts-fifo-${gone}-AbC123`,
        alive: `faceparts-fifo-${process.pid}-XyZ789`,
        older: 'faceparts-fifo-AbC123',
        other: 'something-else',
      };
      for (const name of Object.values(names)) mkdirSync(path.join(tmp, name));
      execFileSync('mkfifo', [path.join(tmp, names.dead, '0')]);
      expect(removeStaleFifoFolders(tmp)).toBe(1);
      expect(existsSync(path.join(tmp, names.dead))).toBe(false);
      for (const name of [names.alive, names.older, names.other]) expect(existsSync(path.join(tmp, name))).toBe(true);
    },
  );
});
