import { execFileSync } from 'node:child_process';
import {
  mkdirSync,
  readFileSync,
  readdirSync,
  existsSync,
  openSync,
  writeSync,
  closeSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEMP_MARKER } from '../../src-main/engine/io/atomic.js';
import { EngineProcess } from '../../src-main/host-node/engine-process.js';
import { resolveTools } from '../../src-main/engine/media/tools.js';
import { runCli } from '../helpers/cli.js';
import { copyMedia, media, scratch, walk } from '../helpers/paths.js';
import { recordReliability } from '../helpers/reliability.js';
import { synthClip } from '../helpers/synth.js';

/**
 * Bad input and injected faults, end to end through the CLI (and so the engine and the contract): every bad file
 * gets an error that names it and says what to do, odd but valid images work, and after a full disk or a damaged
 * index the project opens, nothing is lost and work resumes. Counts go to the run's reliability summary.
 */

/** CRC-32 of PNG chunks (node:zlib has crc32 only from Node 22). */
function crc32(bytes: Buffer): number {
  let c = ~0;
  for (const byte of bytes) {
    c ^= byte;
    for (let k = 0; k < 8; k += 1) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return ~c >>> 0;
}

/** A PNG that claims 100,000 x 100,000 pixels (a header only): a decompression bomb's shape. */
function hugePng(file: string): void {
  const chunk = (type: string, data: Buffer): Buffer => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const out = Buffer.alloc(body.length + 8);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), body.length + 4);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(100_000, 0);
  ihdr.writeUInt32BE(100_000, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  writeFileSync(
    file,
    Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      chunk('IHDR', ihdr),
      chunk('IDAT', Buffer.from([0x78, 0x9c, 0x03, 0x00])),
      chunk('IEND', Buffer.alloc(0)),
    ]),
  );
}

describe('bad input at every entry point', () => {
  let root: string;
  let home: string;
  let video: string;
  let stills: string;
  let tried = 0;

  beforeAll(async () => {
    root = scratch('reliability-input');
    home = path.join(root, 'home');
    [video] = copyMedia(path.join(root, 'media'), ['whitehouse_performance_360p.mp4']) as [string];
    stills = path.join(root, 'media', 'stills');
    mkdirSync(stills, { recursive: true });
    await sharp(media('b_biden_2.jpg')).toFile(path.join(stills, 'b.jpg'));
  });

  afterAll(() => recordReliability('reliability: bad input', { badInputs: tried }));

  it('refuses files that are not usable video, naming each file and the fix, and creates nothing', async () => {
    const bad = path.join(root, 'bad');
    mkdirSync(bad, { recursive: true });
    const text = path.join(bad, 'notes.mp4');
    writeFileSync(text, 'these are notes, not a video');
    const empty = path.join(bad, 'empty.mp4');
    writeFileSync(empty, '');
    const audio = path.join(bad, 'voice only.m4a');
    execFileSync(resolveTools().ffmpeg as string, [
      '-v',
      'error',
      '-f',
      'lavfi',
      '-i',
      'sine=frequency=440:duration=1',
      '-c:a',
      'aac',
      audio,
    ]);
    const truncated = path.join(bad, 'truncated.mp4');
    writeFileSync(truncated, readFileSync(video).subarray(0, 64 * 1024));
    const cases: Array<[string, RegExp]> = [
      [text, /notes\.mp4/],
      [empty, /empty\.mp4/],
      [audio, /voice only\.m4a.*(no video|not a readable video)/],
      [path.join(bad, 'missing.mp4'), /missing\.mp4 does not exist/],
    ];
    for (const [input, pattern] of cases) {
      const project = path.join(root, `p-${tried}`);
      const result = await runCli(['new', project, '--a', input, '--b', stills, '--json'], { FACEPARTS_HOME: home });
      tried += 1;
      expect(result.code, input).not.toBe(0);
      const error = result.json.error as { message: string; fix?: string; file?: string };
      expect(error.message, input).toMatch(pattern);
      expect(error.fix, input).toBeTruthy();
      expect(existsSync(project), input).toBe(false);
    }
    // A file cut short: either refused at once, or (when its index survives) read up to the cut, never a crash.
    const project = path.join(root, 'p-truncated');
    const created = await runCli(['new', project, '--a', truncated, '--b', stills, '--json'], { FACEPARTS_HOME: home });
    tried += 1;
    if (created.code !== 0) {
      expect((created.json.error as { message: string }).message).toMatch(/truncated\.mp4/);
    } else {
      const extracted = await runCli(['extract', project, '--side', 'a', '--json'], { FACEPARTS_HOME: home });
      const error = extracted.json.error as { message: string; fix?: string } | undefined;
      if (extracted.code !== 0) expect(error?.message).toMatch(/truncated\.mp4/);
      expect(extracted.stderr).not.toMatch(/at .*\.js:\d+/); // no stack trace
    }
  });

  it('a corrupted video (bytes overwritten in the middle) is read as far as possible, without crashing the engine', async () => {
    const corrupt = path.join(root, 'corrupt.mp4');
    const bytes = readFileSync(video);
    // Overwrite a tenth of the file in its middle with a fixed noise pattern.
    for (let i = Math.floor(bytes.length * 0.45); i < bytes.length * 0.55; i += 1) bytes[i] = (i * 2654435761) >>> 24;
    writeFileSync(corrupt, bytes);
    const project = path.join(root, 'p-corrupt');
    const created = await runCli(['new', project, '--a', corrupt, '--b', stills, '--json'], { FACEPARTS_HOME: home });
    tried += 1;
    expect(created.code, created.stderr).toBe(0);
    const extracted = await runCli(['extract', project, '--side', 'a', '--json'], { FACEPARTS_HOME: home });
    expect(extracted.stderr).not.toMatch(/at .*\.js:\d+/);
    if (extracted.code === 0) {
      const side = (extracted.json.sides as { a: { framesRead: number; facesKept: number } }).a;
      expect(side.framesRead).toBeGreaterThan(50);
      expect(side.facesKept).toBeGreaterThan(10);
    } else {
      expect((extracted.json.error as { message: string }).message).toMatch(/corrupt\.mp4/);
    }
    const info = await runCli(['info', project, '--json'], { FACEPARTS_HOME: home });
    expect(info.code).toBe(0);
  });

  it('reads CMYK JPEG, 16-bit PNG and PNG with alpha as ordinary images: a face found in each', async () => {
    const folder = path.join(root, 'media', 'odd formats');
    mkdirSync(folder, { recursive: true });
    await sharp(media('b_biden_2.jpg')).toColourspace('cmyk').jpeg().toFile(path.join(folder, '1 cmyk.jpg'));
    await sharp(media('b_biden_2.jpg')).toColourspace('rgb16').png().toFile(path.join(folder, '2 sixteen-bit.png'));
    await sharp(media('b_biden_2.jpg')).ensureAlpha(0.8).png().toFile(path.join(folder, '3 alpha.png'));
    expect((await sharp(path.join(folder, '1 cmyk.jpg')).metadata()).space).toBe('cmyk');
    expect((await sharp(path.join(folder, '2 sixteen-bit.png')).metadata()).depth).toBe('ushort');
    const project = path.join(root, 'p-formats');
    const created = await runCli(['new', project, '--a', video, '--b', folder, '--json'], { FACEPARTS_HOME: home });
    expect(created.code, created.stderr).toBe(0);
    const extracted = await runCli(['extract', project, '--side', 'b', '--json'], { FACEPARTS_HOME: home });
    tried += 3;
    expect(extracted.code, extracted.stderr).toBe(0);
    expect((extracted.json.sides as { b: { framesRead: number; facesKept: number } }).b).toMatchObject({
      framesRead: 3,
      facesKept: 3,
    });
  });

  it('an image claiming 100,000 x 100,000 pixels is refused by name, and the other images still work', async () => {
    const folder = path.join(root, 'media', 'with bomb');
    mkdirSync(folder, { recursive: true });
    hugePng(path.join(folder, '1 huge.png'));
    await sharp(media('b_biden_2.jpg')).toFile(path.join(folder, '2 face.jpg'));
    const project = path.join(root, 'p-huge');
    const created = await runCli(['new', project, '--a', video, '--b', folder, '--json'], { FACEPARTS_HOME: home });
    tried += 1;
    if (created.code !== 0) {
      expect((created.json.error as { message: string }).message).toMatch(/huge\.png/);
      return;
    }
    const extracted = await runCli(['extract', project, '--side', 'b', '--json'], { FACEPARTS_HOME: home });
    expect(extracted.code, extracted.stderr).toBe(0);
    expect(extracted.stderr).toMatch(/huge\.png/);
    expect((extracted.json.sides as { b: { facesKept: number } }).b.facesKept).toBe(1);
  });

  it('a project written by a newer version is refused with the fix, and left as it was', async () => {
    const project = path.join(root, 'p-formats');
    const file = path.join(project, 'project.json');
    const original = readFileSync(file, 'utf8');
    writeFileSync(file, original.replace(/"schemaVersion":\s*\d+/, '"schemaVersion": 999'));
    const result = await runCli(['info', project, '--json'], { FACEPARTS_HOME: home });
    tried += 1;
    expect(result.code).not.toBe(0);
    const error = result.json.error as { message: string; fix?: string };
    expect(error.message).toMatch(/project\.json.*newer/);
    expect(error.fix).toMatch(/update/i);
    expect(readFileSync(file, 'utf8')).toMatch(/"schemaVersion": 999/);
    writeFileSync(file, original);
  });
});

describe('faults: a full disk during a checkpoint, then a damaged index', () => {
  let root: string;
  let home: string;
  let project: string;
  const flags = [
    '--batch-size',
    '2',
    '--model-width',
    '8',
    '--discriminator-width',
    '8',
    '--no-self-attention',
    '--no-perceptual',
    '--seed',
    '3',
  ];
  let faults = 0;
  let lost = 0;

  beforeAll(async () => {
    root = scratch('reliability-faults');
    home = path.join(root, 'home');
    const a = await synthClip(path.join(root, 'clips', 'a'), ['a_obama_1.jpg', 'a_obama_2.jpg'], 2);
    const b = await synthClip(path.join(root, 'clips', 'b'), ['b_biden_2.jpg', 'b_biden_1.jpg'], 2);
    project = path.join(root, 'project');
    expect((await runCli(['new', project, '--a', a, '--b', b, '--json'], { FACEPARTS_HOME: home })).code).toBe(0);
    expect((await runCli(['extract', project, '--json'], { FACEPARTS_HOME: home })).code).toBe(0);
  });

  afterAll(() => recordReliability('reliability: faults', { faults, dataLost: lost }));

  it('a full disk while writing a checkpoint stops training with the file and the fix; the last one survives and training resumes from it', async () => {
    const args = ['train', project, '--iterations', '6', '--checkpoint-every', '2', '--preview-every', '6', ...flags];
    const failed = await runCli([...args, '--json'], { FACEPARTS_HOME: home, FACEPARTS_FAULT_WRITE: 'ckpt-00000004' });
    faults += 1;
    expect(failed.code).not.toBe(0);
    const error = failed.json.error as { message: string; fix?: string; file?: string };
    expect(error.message).toMatch(/ckpt-00000004\.fpck.*disk is full/);
    expect(error.fix).toMatch(/free some disk space/);
    const checkpoints = path.join(project, 'checkpoints', 'run-1');
    expect(readdirSync(checkpoints)).toEqual(['ckpt-00000002.fpck']);
    expect(walk(project).filter((f) => path.basename(f).startsWith(TEMP_MARKER))).toEqual([]);
    const db = new Database(path.join(project, 'index.sqlite'), { readonly: true });
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    const state = db.prepare('SELECT state FROM training_runs WHERE id = 1').get() as { state: string };
    db.close();
    expect(state.state).toBe('failed');

    const resumed = await runCli([...args, '--json'], { FACEPARTS_HOME: home });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/resumed run 1 at iteration 2/);
    expect(resumed.json).toMatchObject({ state: 'completed', iteration: 6 });
    // Nothing recorded before the fault went missing: every iteration's losses are there once.
    const after = new Database(path.join(project, 'index.sqlite'), { readonly: true });
    const iterations = after
      .prepare('SELECT iteration FROM losses WHERE run_id = 1 ORDER BY iteration')
      .all() as Array<{
      iteration: number;
    }>;
    after.close();
    expect(iterations.map((r) => r.iteration)).toEqual([1, 2, 3, 4, 5, 6]);
    lost += 6 - iterations.length;
  });

  it('a damaged page in the index: the project opens from the backup made after the last job, the damaged file kept', async () => {
    const index = path.join(project, 'index.sqlite');
    expect(existsSync(path.join(project, 'index.sqlite.bak'))).toBe(true);
    const before = new Database(index, { readonly: true });
    const counts = (db: Database.Database): unknown =>
      db.prepare('SELECT (SELECT COUNT(*) FROM frames) AS frames, (SELECT COUNT(*) FROM faces) AS faces').get();
    const expected = counts(before);
    const pageSize = before.pragma('page_size', { simple: true }) as number;
    before.close();
    // Garbage over pages 2 and 3: the schema's and the first tables' pages.
    const fd = openSync(index, 'r+');
    writeSync(fd, Buffer.alloc(pageSize * 2, 0xa5), 0, pageSize * 2, pageSize);
    closeSync(fd);
    faults += 1;

    const info = await runCli(['info', project, '--json'], { FACEPARTS_HOME: home });
    expect(info.code, info.stderr).toBe(0);
    expect(info.stderr).toMatch(/index was damaged.*restored/);
    const restored = new Database(index, { readonly: true });
    expect(restored.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(counts(restored)).toEqual(expected);
    restored.close();
    expect(readdirSync(project).some((f) => f.startsWith('index.sqlite.damaged-'))).toBe(true);
    // And work goes on: a conversion-free check that the training run is still known.
    const again = await runCli(['info', project, '--json'], { FACEPARTS_HOME: home });
    expect(again.code).toBe(0);
    expect(again.stderr).not.toMatch(/damaged/);
  });

  it('SIGKILL in the middle of a checkpoint write: the half-written file never shows, and training resumes from the one before', async () => {
    const engine = new EngineProcess({ env: { FACEPARTS_HOME: home, FACEPARTS_FAULT_WRITE: 'hang:ckpt-00000008' } });
    const checkpoints = path.join(project, 'checkpoints', 'run-1');
    await engine.client.request('jobs.start', {
      dir: project,
      job: {
        type: 'train',
        overrides: {
          iterations: 10,
          checkpointEvery: 2,
          previewEvery: 10,
          batchSize: 2,
          modelWidth: 8,
          discriminatorWidth: 8,
          useSelfAttention: false,
          perceptualLoss: false,
          seed: 3,
        },
      },
    });
    // The write of checkpoint 8 stops half-way: its temp file is there, the checkpoint itself is not.
    await expect
      .poll(() => readdirSync(checkpoints).some((f) => f.startsWith(TEMP_MARKER)), { timeout: 90_000, interval: 200 })
      .toBe(true);
    engine.child.kill('SIGKILL');
    await engine.exited;
    faults += 1;
    expect(readdirSync(checkpoints).filter((f) => !f.startsWith(TEMP_MARKER))).toEqual([
      'ckpt-00000002.fpck',
      'ckpt-00000004.fpck',
      'ckpt-00000006.fpck',
    ]);

    const resumed = await runCli(
      ['train', project, '--iterations', '10', '--checkpoint-every', '2', ...flags, '--json'],
      {
        FACEPARTS_HOME: home,
      },
    );
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/resumed run 1 at iteration 6/);
    expect(readdirSync(checkpoints).filter((f) => f.startsWith(TEMP_MARKER))).toEqual([]);
    const db = new Database(path.join(project, 'index.sqlite'), { readonly: true });
    const iterations = db.prepare('SELECT iteration FROM losses WHERE run_id = 1 ORDER BY iteration').all() as Array<{
      iteration: number;
    }>;
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    db.close();
    expect(iterations.map((r) => r.iteration)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    lost += 10 - iterations.length;
  });
});
