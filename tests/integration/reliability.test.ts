import { execFileSync } from 'node:child_process';
import {
  mkdirSync,
  readFileSync,
  readdirSync,
  existsSync,
  lstatSync,
  openSync,
  writeSync,
  closeSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import Database from 'better-sqlite3';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { TEMP_MARKER } from '../../src-main/engine/io/atomic.js';
import { EngineProcess } from '../../src-main/host-node/engine-process.js';
import { resolveTools } from '../../src-main/engine/media/tools.js';
import { ProjectStore } from '../../src-main/engine/project/store.js';
import { MAX_CLIENTS, MAX_MESSAGE_BYTES } from '../../src-main/serve/server.js';
import { isLoopback } from '../../src-main/serve/security.js';
import {
  LOOPBACK,
  abortedDownload,
  frame,
  getRequest,
  httpGet,
  openRawWebSocket,
  rawRequest,
  seeded,
  sendAndWait,
  spawnServe,
  textFrames,
  upgradeRequest,
  type RawWebSocket,
  type ServeChild,
} from '../helpers/attack.js';
import { TINY_MODEL, runCli } from '../helpers/cli.js';
import { copyMedia, imageFolder, media, scratch, walk } from '../helpers/paths.js';
import { RELIABILITY_DIR, recordReliability } from '../helpers/reliability.js';
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
  const flags = [...TINY_MODEL, '--no-perceptual', '--seed', '3'];
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

/**
 * serve mode probed from outside, as another process or a web page on the same machine would (issue #18): the server
 * runs as its own process (under macOS's default limit of 256 open files) and is attacked over raw loopback sockets.
 * Every case must leave it running, with its memory and open files bounded, and no user file lost.
 */
describe('serve under attack: malformed protocol, leaks, rebinding, tokens, deletion', () => {
  const TOKEN = 'the-right-token-0123456789';
  /** How much the server's memory may grow over all the attacks (parallel near-limit frames included). */
  const MAX_RSS_GROWTH_MB = 200;
  let root: string;
  let home: string;
  let project: string;
  let serve: ServeChild;
  let guarded: ServeChild;
  let badInputs = 0;
  let hostile = 0;
  let faults = 0;
  let lost = 0;
  let rssBefore = 0;
  /** The highest RSS seen, sampled after each attack. */
  let rssPeak = 0;
  let filesBefore: number | null = null;
  let sourceA: string;
  let sourceB: string;

  const mediaTarget = (dir: string, rel: string, token?: string): string =>
    `/media?dir=${encodeURIComponent(dir)}&path=${encodeURIComponent(rel)}${token ? `&token=${token}` : ''}`;

  async function client(server: ServeChild, token?: string): Promise<WebSocket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://${LOOPBACK}:${server.port}/ws${token ? `?token=${token}` : ''}`);
      ws.once('open', () => resolve(ws));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      ws.once('error', reject);
    });
  }

  let nextId = 1;
  function call(ws: WebSocket, method: string, params: unknown): Promise<Record<string, unknown>> {
    const id = `c${nextId++}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${method}: no reply within 60 s`)), 60_000);
      const onMessage = (data: WebSocket.RawData): void => {
        const parsed = JSON.parse(data.toString()) as Record<string, unknown>;
        if (parsed.kind !== 'response' || parsed.id !== id) return;
        clearTimeout(timer);
        ws.off('message', onMessage);
        resolve(parsed);
      };
      ws.on('message', onMessage);
      ws.send(JSON.stringify({ kind: 'request', id, method, params }));
    });
  }

  async function expectUp(server: ServeChild): Promise<void> {
    expect(server.alive(), server.stderr()).toBe(true);
    const health = await httpGet(server.port, '/healthz', { Host: `${LOOPBACK}:${server.port}` });
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toMatchObject({ ok: true, engine: true });
  }

  /** A project made by this version's store, without media probing: fast, and the same layout. */
  function makeProject(dir: string, name: string): string {
    const fake = {
      width: 64,
      height: 64,
      displayWidth: 64,
      displayHeight: 64,
      rotation: 0,
      fps: 1,
      frameCount: 1,
      durationSeconds: 1,
      hasAudio: false,
      codec: 'png',
    };
    ProjectStore.create(dir, {
      name,
      sources: {
        a: { side: 'a', kind: 'images', path: sourceA, media: fake },
        b: { side: 'b', kind: 'images', path: sourceB, media: fake },
      },
    }).close();
    return dir;
  }

  beforeAll(async () => {
    root = scratch('reliability-serve');
    home = path.join(root, 'home');
    sourceA = imageFolder(path.join(root, 'media', 'a'), ['a_obama_1.jpg']);
    sourceB = imageFolder(path.join(root, 'media', 'b'), ['b_biden_2.jpg']);
    project = makeProject(path.join(root, 'project'), 'Attacked');
    mkdirSync(path.join(project, 'thumbs', 'a'), { recursive: true });
    copyMedia(path.join(project, 'thumbs', 'a'), ['a_obama_1.jpg']);
    // Large enough that a download is still streaming when the client goes away.
    writeFileSync(path.join(project, 'exports', 'big.mp4'), Buffer.alloc(8 * 2 ** 20, 7));
    await startServers();
    rssBefore = serve.rssMB();
    filesBefore = serve.openFiles();
  });

  /** Start the servers, or start again one that a previous case brought down (that case has failed already). */
  async function startServers(): Promise<void> {
    const up = (server: ServeChild | undefined): Promise<boolean> =>
      server && server.alive()
        ? httpGet(server.port, '/healthz', { Host: `${LOOPBACK}:${server.port}` }, 3000).then(
            (r) => r.status === 200,
            () => false,
          )
        : Promise.resolve(false);
    if (!(await up(serve as ServeChild | undefined))) {
      await (serve as ServeChild | undefined)?.stop();
      serve = await spawnServe({ env: { FACEPARTS_HOME: home }, maxOpenFiles: 256 });
      const ws = await client(serve);
      expect(await call(ws, 'project.open', { dir: project })).toMatchObject({ ok: true });
      ws.close();
      await expectUp(serve);
    }
    if (!(await up(guarded as ServeChild | undefined))) {
      await (guarded as ServeChild | undefined)?.stop();
      guarded = await spawnServe({ env: { FACEPARTS_HOME: home }, args: ['--token', TOKEN], maxOpenFiles: 256 });
    }
  }
  beforeEach(startServers);
  afterEach(() => {
    if (serve.alive()) rssPeak = Math.max(rssPeak, serve.rssMB());
  });

  afterAll(async () => {
    const rssAfter = serve?.alive() ? serve.rssMB() : null;
    const filesAfter = serve?.alive() ? serve.openFiles() : null;
    mkdirSync(RELIABILITY_DIR, { recursive: true });
    writeFileSync(
      path.join(RELIABILITY_DIR, 'serve-attack.json'),
      `${JSON.stringify({
        rssBeforeMB: Math.round(rssBefore),
        rssPeakMB: Math.round(rssPeak),
        rssAfterMB: rssAfter && Math.round(rssAfter),
        openFilesBefore: filesBefore,
        openFilesAfter: filesAfter,
      })}\n`,
    );
    await serve?.stop();
    await guarded?.stop();
    recordReliability('reliability: serve under attack', {
      badInputs,
      faults,
      hostileMessages: hostile,
      dataLost: lost,
    });
  });

  it('an upgrade (or request) whose target is not a URL gets 400, with or without --token, and serve stays up', async () => {
    const targets = ['//[::1/ws', 'http://x:99999/ws', 'http://a%zz/ws', 'http://[::1/ws', '//[/ws', 'http://a:b@/ws'];
    for (const server of [serve, guarded]) {
      for (const target of targets) {
        const upgrade = await rawRequest(server.port, upgradeRequest(target, {}, server.port));
        badInputs += 1;
        expect(upgrade.status, `${target}: ${server.stderr()}`).toBe(400);
        const plain = await rawRequest(server.port, getRequest(target, `${LOOPBACK}:${server.port}`));
        badInputs += 1;
        expect(plain.status, target).toBe(400);
      }
      await expectUp(server);
    }
  });

  it('frames no client may send (bad UTF-8, unmasked, RSV1, opcode 3, close code 999, 33 MiB) close that connection only', async () => {
    const big = Buffer.alloc(33 * 2 ** 20, 0x61);
    const cases: Array<[string, Buffer, number]> = [
      ['invalid UTF-8', frame({ opcode: 0x1, payload: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]) }), 1007],
      ['unmasked', frame({ opcode: 0x1, payload: Buffer.from('{}'), mask: false }), 1002],
      ['RSV1 without an extension', frame({ opcode: 0x1, rsv: 4, payload: Buffer.from('{}') }), 1002],
      ['opcode 3', frame({ opcode: 0x3, payload: Buffer.from('x') }), 1002],
      ['close code 999', frame({ opcode: 0x8, payload: Buffer.from([0x03, 0xe7]) }), 1002],
      ['ping longer than 125 bytes', frame({ opcode: 0x9, payload: Buffer.alloc(200) }), 1002],
      ['fragmented ping', frame({ opcode: 0x9, fin: false, payload: Buffer.from('p') }), 1002],
      ['continuation with nothing to continue', frame({ opcode: 0x0, payload: Buffer.from('x') }), 1002],
      ['declares 2^63 bytes', frame({ opcode: 0x2, declaredLength: 2n ** 63n - 1n }), 1009],
      ['33 MiB text frame', frame({ opcode: 0x1, payload: big }), 1009],
    ];
    for (const [name, bytes, code] of cases) {
      const ws = await openRawWebSocket(serve.port);
      const closedWith = await sendAndWait(ws, bytes, 10_000);
      hostile += 1;
      expect(closedWith, `${name}: ${serve.stderr()}`).toBe(code);
      expect(serve.alive(), `${name}: ${serve.stderr()}`).toBe(true);
    }
    // 33 MiB in 1 MiB fragments: refused once the total passes the limit.
    const ws = await openRawWebSocket(serve.port);
    const fragments = Array.from({ length: 33 }, (_, i) =>
      frame({ opcode: i === 0 ? 0x1 : 0x0, fin: i === 32, payload: big.subarray(0, 2 ** 20) }),
    );
    expect(await sendAndWait(ws, Buffer.concat(fragments), 10_000)).toBe(1009);
    hostile += 1;
    // The others are unaffected.
    const other = await client(serve);
    expect(await call(other, 'engine.info', {})).toMatchObject({ ok: true });
    other.close();
    await expectUp(serve);
  });

  it('300 downloads abandoned mid-way (with and without ranges) release their file handles; serve stays up at 256 files', async () => {
    const target = mediaTarget(project, 'exports/big.mp4');
    const ranges = [undefined, 'bytes=0-', 'bytes=1000000-', 'bytes=-4000000', 'bytes=5-5000000'];
    for (let round = 0; round < 30; round += 1) {
      const batch = Array.from({ length: 10 }, (_, i) => {
        const range = ranges[(round + i) % ranges.length];
        return abortedDownload(serve.port, target, range ? { Range: range } : {});
      });
      const statuses = await Promise.all(batch);
      faults += batch.length;
      for (const status of statuses) expect([200, 206], serve.stderr()).toContain(status);
    }
    await expectUp(serve);
    if (filesBefore !== null) {
      await expect
        .poll(() => serve.openFiles() ?? 0, { timeout: 10_000, interval: 200 })
        .toBeLessThanOrEqual(filesBefore + 8);
    }
    // A HEAD sends headers only, and a full download still works.
    const head = await rawRequest(serve.port, getRequest(target, `${LOOPBACK}:${serve.port}`).replace(/^GET/, 'HEAD'));
    expect(head.status).toBe(200);
    expect(head.bytes.toString('latin1')).toMatch(/content-length: 8388608/i);
    expect(head.bytes.length).toBeLessThan(4096);
    const full = await httpGet(serve.port, target, { Host: `${LOOPBACK}:${serve.port}` }, 30_000);
    expect(full.status).toBe(200);
  });

  it('DNS rebinding: a Host that is not loopback (or a name given with --allow-host) is refused, on HTTP and on the upgrade', async () => {
    const evil = `rebind.attacker.example:${serve.port}`;
    for (const target of ['/', '/healthz', mediaTarget(project, 'thumbs/a/a_obama_1.jpg'), '/assets/']) {
      const reply = await rawRequest(serve.port, getRequest(target, evil));
      badInputs += 1;
      expect(reply.status, target).toBe(403);
    }
    const upgrade = await rawRequest(
      serve.port,
      upgradeRequest('/ws', { Host: evil, Origin: `http://${evil}` }, serve.port),
    );
    badInputs += 1;
    expect(upgrade.status).toBe(403);
    for (const host of [`127.attacker.example:${serve.port}`, `localhost.attacker.example:${serve.port}`, '']) {
      expect((await rawRequest(serve.port, getRequest('/healthz', host))).status, host).toBe(403);
      badInputs += 1;
    }
    expect(isLoopback('127.attacker.example')).toBe(false);
    expect(isLoopback('127.0.0.1')).toBe(true);
    for (const host of [`localhost:${serve.port}`, `127.0.0.1:${serve.port}`, `[::1]:${serve.port}`, 'localhost']) {
      expect((await rawRequest(serve.port, getRequest('/healthz', host))).status, host).toBe(200);
    }
    expect((await rawRequest(guarded.port, getRequest('/healthz', evil))).status).toBe(403);
    // A name the user allowed (--allow-host), on a server with a token.
    const named = await spawnServe({
      env: { FACEPARTS_HOME: home },
      args: ['--token', TOKEN, '--allow-host', 'studio.lan'],
    });
    try {
      const allowed = await rawRequest(
        named.port,
        upgradeRequest(`/ws?token=${TOKEN}`, { Host: `studio.lan:${named.port}` }, named.port),
      );
      expect(allowed.status).toBe(101);
      expect((await rawRequest(named.port, getRequest('/healthz', evil))).status).toBe(403);
    } finally {
      await named.stop();
    }
  });

  it('a project is only created in an empty folder; delete removes what the project wrote and nothing else', async () => {
    // A home folder holding only dot-files is not empty.
    const fakeHome = path.join(root, 'fake-home');
    mkdirSync(path.join(fakeHome, '.ssh'), { recursive: true });
    writeFileSync(path.join(fakeHome, '.ssh', 'id_ed25519'), 'PRIVATE KEY');
    writeFileSync(path.join(fakeHome, '.bashrc'), 'export PS1=$');
    const ws = await client(serve);
    const refused = await call(ws, 'project.create', { dir: fakeHome, sourceA, sourceB });
    badInputs += 1;
    expect(refused).toMatchObject({ ok: false, error: { code: 'ALREADY_EXISTS' } });
    const error = refused.error as { message: string; fix?: string };
    expect(error.message).toContain(fakeHome);
    expect(error.fix).toMatch(/empty/);
    expect(readdirSync(fakeHome).sort()).toEqual(['.bashrc', '.ssh']);

    // A project made before this rule, in a folder with the user's files in it (and some inside its folders).
    const legacy = makeProject(path.join(root, 'legacy'), 'Legacy');
    const ours = [
      'thumbs/a/000000.jpg',
      'faces/a/000000.png',
      'masks/1-eyes.png',
      'checkpoints/run-1/ckpt-00000002.fpck',
      'previews/run-1/00000002.png',
      'previews/convert/a-000000-after.png',
      'models/generator.fpm',
      'exports/swap.mp4',
      'exports/swap.mp4.metrics.json',
      'index.sqlite.bak',
    ];
    for (const rel of ours) {
      mkdirSync(path.dirname(path.join(legacy, rel)), { recursive: true });
      writeFileSync(path.join(legacy, rel), 'made by the project');
    }
    const db = new Database(path.join(legacy, 'index.sqlite'));
    db.prepare('INSERT INTO exports (path, created_at, config, metrics) VALUES (?, ?, ?, ?)').run(
      path.join(legacy, 'exports', 'swap.mp4'),
      new Date().toISOString(),
      '{}',
      '{}',
    );
    db.close();
    const theirs: Record<string, string> = {
      '.ssh/id_ed25519': 'PRIVATE KEY',
      '.bashrc': 'export PS1=$',
      'notes.txt': 'my notes',
      'thumbs/a/holiday.jpg': 'a photo of mine',
      'exports/mine.mp4': 'my own video',
      'checkpoints/readme.txt': 'my readme',
      'models/generator.fpm.mine': 'my copy',
    };
    for (const [rel, text] of Object.entries(theirs)) {
      mkdirSync(path.dirname(path.join(legacy, rel)), { recursive: true });
      writeFileSync(path.join(legacy, rel), text);
    }
    symlinkSync(path.join(legacy, 'notes.txt'), path.join(legacy, 'thumbs', 'a', '000001.jpg'));

    expect(await call(ws, 'project.open', { dir: legacy })).toMatchObject({ ok: true });
    for (const rel of ['.ssh/id_ed25519', '.bashrc', 'notes.txt', 'index.sqlite', 'project.json']) {
      const reply = await httpGet(serve.port, mediaTarget(legacy, rel), { Host: `${LOOPBACK}:${serve.port}` });
      badInputs += 1;
      expect(reply.status, rel).toBe(403);
      expect(reply.body).not.toContain('PRIVATE KEY');
    }
    const deleted = await call(ws, 'project.delete', { dir: legacy, confirmName: 'Legacy' });
    expect(deleted, JSON.stringify(deleted)).toMatchObject({
      ok: true,
      result: { deleted: true, folderRemoved: false },
    });
    const kept = (deleted.result as { kept: string[] }).kept;
    expect(kept).toEqual(
      expect.arrayContaining(['.ssh/', '.bashrc', 'notes.txt', 'thumbs/a/holiday.jpg', 'thumbs/a/000001.jpg']),
    );
    for (const [rel, text] of Object.entries(theirs)) {
      const file = path.join(legacy, rel);
      const intact = existsSync(file) && readFileSync(file, 'utf8') === text;
      if (!intact) lost += 1;
      expect(intact, rel).toBe(true);
    }
    expect(lstatSync(path.join(legacy, 'thumbs', 'a', '000001.jpg')).isSymbolicLink()).toBe(true);
    for (const rel of [...ours, 'project.json', 'index.sqlite', 'faces/b', 'previews/run-1', 'masks']) {
      expect(existsSync(path.join(legacy, rel)), rel).toBe(false);
    }

    // A project in a new folder is removed entirely.
    const clean = path.join(root, 'clean', 'project');
    expect(await call(ws, 'project.create', { dir: clean, sourceA, sourceB, name: 'Clean' })).toMatchObject({
      ok: true,
    });
    expect(await call(ws, 'project.delete', { dir: clean, confirmName: 'Clean' })).toMatchObject({
      ok: true,
      result: { deleted: true, kept: [], folderRemoved: true },
    });
    expect(existsSync(clean)).toBe(false);
    ws.close();
    await expectUp(serve);
  });

  it('/media stops serving a project once any client deletes it', async () => {
    const dir = makeProject(path.join(root, 'short-lived'), 'Short');
    mkdirSync(path.join(dir, 'thumbs', 'a'), { recursive: true });
    copyMedia(path.join(dir, 'thumbs', 'a'), ['b_biden_1.jpg']);
    const one = await client(serve);
    const two = await client(serve);
    expect(await call(one, 'project.open', { dir })).toMatchObject({ ok: true });
    const target = mediaTarget(dir, 'thumbs/a/b_biden_1.jpg');
    const host = { Host: `${LOOPBACK}:${serve.port}` };
    expect((await httpGet(serve.port, target, host)).status).toBe(200);
    expect(await call(two, 'project.delete', { dir, confirmName: 'Short' })).toMatchObject({ ok: true });
    // The user's own picture stays on disk, and /media no longer reaches it.
    expect(existsSync(path.join(dir, 'thumbs', 'a', 'b_biden_1.jpg'))).toBe(true);
    expect((await httpGet(serve.port, target, host)).status).toBe(403);
    badInputs += 1;
    one.close();
    two.close();
  });

  it('wrong tokens are throttled, but never lock out the holder of the right one', async () => {
    const wrong = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        i % 2 === 0
          ? httpGet(guarded.port, mediaTarget(project, 'thumbs/a/a_obama_1.jpg', `wrong${i}`), {
              Host: `${LOOPBACK}:${guarded.port}`,
            }).then((r) => r.status)
          : rawRequest(guarded.port, upgradeRequest(`/ws?token=wrong${i}`, {}, guarded.port)).then((r) => r.status),
      ),
    );
    badInputs += wrong.length;
    expect(wrong.every((s) => s === 401 || s === 429)).toBe(true);
    expect(wrong.filter((s) => s === 429).length).toBeGreaterThan(0);
    // Right after: the right token works at once, on the WebSocket and on /media.
    const ws = await client(guarded, TOKEN);
    expect(await call(ws, 'project.open', { dir: project })).toMatchObject({ ok: true });
    const media = await httpGet(guarded.port, mediaTarget(project, 'thumbs/a/a_obama_1.jpg', TOKEN), {
      Host: `${LOOPBACK}:${guarded.port}`,
    });
    expect(media.status).toBe(200);
    ws.close();
    await expectUp(guarded);
  });

  it('engine.shutdown from a client is refused: the engine is the server’s, and the other clients keep working', async () => {
    const one = await client(serve);
    const two = await client(serve);
    const refused = await call(one, 'engine.shutdown', { checkpoint: true });
    hostile += 1;
    expect(refused).toMatchObject({ ok: false, error: { code: 'UNAUTHORIZED' } });
    expect((refused.error as { message: string }).message).toMatch(/Ctrl-C/);
    expect(await call(two, 'engine.info', {})).toMatchObject({ ok: true });
    one.close();
    two.close();
    await expectUp(serve);
  });

  it('smaller: bad percent-encoding is 400, errors do not list folders, connections and payloads are capped', async () => {
    for (const target of ['/%zz', '/%E0%A4%A', '/assets/%']) {
      expect((await rawRequest(serve.port, getRequest(target, `${LOOPBACK}:${serve.port}`))).status, target).toBe(400);
      badInputs += 1;
    }
    const ws = await client(serve);
    for (const dir of ['/', '/etc', '/proc/self']) {
      const names = readdirSync(dir).slice(0, 8);
      for (const method of ['project.create', 'project.open', 'project.delete']) {
        const params =
          method === 'project.create'
            ? { dir, sourceA, sourceB }
            : method === 'project.delete'
              ? { dir, confirmName: 'x' }
              : { dir };
        const reply = await call(ws, method, params);
        badInputs += 1;
        expect(reply.ok, `${method} ${dir}`).toBe(false);
        const message = (reply.error as { message: string }).message;
        for (const name of names.filter((n) => n.length > 3)) expect(message, `${method} ${dir}`).not.toContain(name);
      }
    }
    ws.close();

    // At most MAX_CLIENTS WebSockets at once; the rest are told to come back later, and can once others leave.
    const sockets: RawWebSocket[] = [];
    const refusals: string[] = [];
    for (let i = 0; i < MAX_CLIENTS + 8; i += 1) {
      try {
        sockets.push(await openRawWebSocket(serve.port));
      } catch (error) {
        refusals.push((error as Error).message);
      }
    }
    hostile += MAX_CLIENTS + 8;
    expect(sockets.length).toBe(MAX_CLIENTS);
    expect(
      refusals.every((r) => /503/.test(r)),
      refusals[0],
    ).toBe(true);
    // Parallel frames just under the limit: each answered (not JSON), memory stays bounded.
    const nearLimit = Buffer.alloc(MAX_MESSAGE_BYTES - 64, 0x61);
    for (const s of sockets) s.socket.write(frame({ opcode: 0x1, payload: nearLimit }));
    hostile += sockets.length;
    await expect
      .poll(() => sockets.filter((s) => textFrames(s.received()).length > 0).length, { timeout: 60_000 })
      .toBe(sockets.length);
    rssPeak = Math.max(rssPeak, serve.rssMB());
    for (const s of sockets) s.socket.destroy();
    await expect
      .poll(() =>
        openRawWebSocket(serve.port).then(
          (s) => {
            s.socket.destroy();
            return 'accepted';
          },
          (error: Error) => error.message,
        ),
      )
      .toBe('accepted');
    // Idle TCP connections beyond the cap are dropped; serve stays up and answers once they go.
    const idle = await Promise.all(
      Array.from(
        { length: 160 },
        () =>
          new Promise<net.Socket>((resolve) => {
            const s = net.connect({ host: LOOPBACK, port: serve.port }, () => resolve(s));
            s.on('error', () => resolve(s));
          }),
      ),
    );
    hostile += idle.length;
    expect(serve.alive()).toBe(true);
    for (const s of idle) s.destroy();
    await expect
      .poll(async () => (await httpGet(serve.port, '/healthz', { Host: `${LOOPBACK}:${serve.port}` })).status, {
        timeout: 10_000,
      })
      .toBe(200);
    expect(serve.rssMB() - rssBefore).toBeLessThan(MAX_RSS_GROWTH_MB);
  });

  it('fuzz (seeded): 1,600 upgrade requests and 1,600 frame headers crash nothing', async () => {
    const random = seeded(18);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
    const targetParts = [
      '/',
      '//',
      '/ws',
      'ws',
      '[',
      ']',
      '::1',
      '%',
      '%zz',
      '%2f',
      '%00',
      '?',
      '#',
      '@',
      ':',
      '99999',
      'http://',
      'https://',
      'x',
      '..',
      '\\',
      '\u00e9',
      '*',
      'token=',
      '&',
      '=',
      '/media',
      'dir=',
      '[::1]',
      '0x7f.1',
    ];
    const hosts = [
      `${LOOPBACK}:${serve.port}`,
      `localhost:${serve.port}`,
      'rebind.attacker.example',
      '[::1',
      ':::',
      'a:b:c',
      '127.0.0.1:99999',
      'x'.repeat(300),
      '[::1]:',
      '%zz',
    ];
    const upgradeCase = (port: number): string => {
      const target = Array.from({ length: 1 + Math.floor(random() * 6) }, () => pick(targetParts)).join('');
      const headers: Record<string, string> = { Host: pick([...hosts, `${LOOPBACK}:${port}`]) };
      if (random() < 0.5) headers.Origin = pick(['null', 'http://evil.example', `http://${headers.Host}`, '%', '']);
      if (random() < 0.2) headers['Sec-WebSocket-Version'] = pick(['8', '', '13, 8', 'x']);
      if (random() < 0.2) headers['Sec-WebSocket-Key'] = pick(['', 'short', 'x'.repeat(100)]);
      if (random() < 0.2) headers['Sec-WebSocket-Protocol'] = pick(['', ',,,', 'a b', 'x'.repeat(200)]);
      if (random() < 0.2) headers['Sec-WebSocket-Extensions'] = pick(['permessage-deflate', 'x; y=', ';;']);
      if (random() < 0.2) headers.Authorization = pick(['Bearer ', 'Bearer x', 'Basic a', `Bearer ${TOKEN}`]);
      return upgradeRequest(target.replace(/ /g, ''), headers, port);
    };
    const lengths = [0n, 1n, 125n, 126n, 127n, 65535n, 65536n, 2n ** 32n, 2n ** 53n, 2n ** 63n - 1n, 2n ** 64n - 1n];
    const frameCase = (): Buffer => {
      const payload = Buffer.from(Array.from({ length: Math.floor(random() * 48) }, () => Math.floor(random() * 256)));
      const spec: Parameters<typeof frame>[0] = {
        fin: random() < 0.7,
        rsv: random() < 0.8 ? 0 : Math.floor(random() * 8),
        opcode: random() < 0.6 ? pick([0x0, 0x1, 0x2, 0x8, 0x9, 0xa]) : Math.floor(random() * 16),
        payload,
        mask: random() < 0.9,
      };
      if (random() < 0.3) spec.declaredLength = pick(lengths);
      const bytes = frame(spec);
      // Sometimes cut short, sometimes followed by another frame.
      if (random() < 0.2) return bytes.subarray(0, Math.floor(random() * bytes.length));
      return random() < 0.3 ? Buffer.concat([bytes, frame({ opcode: Math.floor(random() * 16), payload })]) : bytes;
    };
    const CASES = 1600;
    const CONCURRENCY = 8;
    let done = 0;
    const upgrades = Array.from({ length: CASES }, (_, i) => (i % 2 === 0 ? serve : guarded)).map((server) => ({
      server,
      bytes: upgradeCase(server.port),
    }));
    const frames = Array.from({ length: CASES }, frameCase);
    const worker = async (next: () => Promise<void> | null): Promise<void> => {
      for (let job = next(); job !== null; job = next()) await job;
    };
    let u = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, () =>
        worker(() => {
          const item = upgrades[u++];
          if (!item) return null;
          return rawRequest(item.server.port, item.bytes, 1000).then(() => {
            done += 1;
          });
        }),
      ),
    );
    expect(serve.alive(), serve.stderr()).toBe(true);
    expect(guarded.alive(), guarded.stderr()).toBe(true);
    let f = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, () =>
        worker(() => {
          const bytes = frames[f++];
          if (!bytes) return null;
          return openRawWebSocket(serve.port)
            .then((ws) => sendAndWait(ws, bytes, 150))
            .then(() => {
              done += 1;
            });
        }),
      ),
    );
    hostile += done;
    expect(done).toBe(2 * CASES);
    await expectUp(serve);
    await expectUp(guarded);
    expect(serve.rssMB() - rssBefore).toBeLessThan(MAX_RSS_GROWTH_MB);
  });
});
