/**
 * Training modes through the CLI on a project of the A and B stills: a timelapse of a run's previews (MP4 and
 * animated WebP), a warm start from another project (recorded on the new run), its refusal of another model shape,
 * and Method #1 (the kNN pairs preview, the model's own decoder used to convert).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src-main/engine/backend/select.js';
import { resolveTools } from '../../src-main/engine/media/tools.js';
import { Generator } from '../../src-main/engine/model/generator.js';
import { TINY_MODEL, runCli } from '../helpers/cli.js';
import { scratch } from '../helpers/paths.js';
import { synthClip } from '../helpers/synth.js';

const TINY = [...TINY_MODEL, '--no-perceptual', '--json'];

describe('training modes', () => {
  let root: string;
  let env: Record<string, string>;
  let first: string;
  let second: string;

  beforeAll(async () => {
    root = scratch('train-modes');
    env = { FACEPARTS_HOME: path.join(root, 'home') };
    const a = await synthClip(path.join(root, 'clips', 'a'), ['a_obama_1.jpg', 'a_obama_2.jpg'], 3);
    const b = await synthClip(path.join(root, 'clips', 'b'), ['b_biden_2.jpg', 'b_biden_1.jpg'], 3);
    first = path.join(root, 'first');
    second = path.join(root, 'second');
    for (const dir of [first, second]) {
      expect((await runCli(['new', dir, '--a', a, '--b', b, '--json'], env)).code).toBe(0);
      const extracted = await runCli(['extract', dir, '--json'], env);
      expect(extracted.code, extracted.stdout + extracted.stderr).toBe(0);
    }
    const trained = await runCli(['train', first, '--iterations', '12', '--preview-every', '3', ...TINY], env);
    expect(trained.code, trained.stdout + trained.stderr).toBe(0);
  }, 600_000);

  it("makes a timelapse of a run's previews, as an MP4 and as an animated WebP", async () => {
    const mp4 = await runCli(['timelapse', first, '--json'], env);
    expect(mp4.code, mp4.stdout + mp4.stderr).toBe(0);
    const made = mp4.json as { file: string; frames: number; runId: number };
    expect(made.frames).toBe(4);
    const probe = JSON.parse(
      execFileSync(resolveTools().ffprobe as string, [
        '-v',
        'error',
        '-count_frames',
        '-show_streams',
        '-of',
        'json',
        made.file,
      ]).toString(),
    ) as { streams: Array<{ nb_read_frames: string; width: number }> };
    expect(Number(probe.streams[0]?.nb_read_frames)).toBe(4);
    const webp = await runCli(['timelapse', first, '--format', 'webp', '--json'], env);
    expect(webp.code).toBe(0);
    const meta = await sharp((webp.json as { file: string }).file, { animated: true }).metadata();
    expect(meta.pages).toBe(4);
    // The run that has no previews yet says what to do.
    const none = await runCli(['timelapse', second, '--json'], env);
    expect(none.code).not.toBe(0);
    expect((none.json.error as { message: string }).message).toMatch(/no training run yet|preview/);
  });

  it('starts a new run from another project, records where it started, and refuses another model shape', async () => {
    const warm = await runCli(['train', second, '--iterations', '2', '--from', first, ...TINY], env);
    expect(warm.code, warm.stdout + warm.stderr).toBe(0);
    const db = new Database(path.join(second, 'index.sqlite'), { readonly: true });
    const run = db.prepare('SELECT config FROM training_runs ORDER BY id DESC LIMIT 1').get() as { config: string };
    const losses = db.prepare('SELECT "values" AS v FROM losses ORDER BY iteration LIMIT 1').get() as { v: string };
    db.close();
    const startedFrom = (JSON.parse(run.config) as { startedFrom: { file: string; parts: string; iteration: number } })
      .startedFrom;
    expect(startedFrom).toMatchObject({ parts: 'generator', iteration: 12 });
    expect(startedFrom.file.startsWith(path.join(first, 'checkpoints'))).toBe(true);
    // Its first reconstruction loss is the trained one's, not a fresh model's.
    const firstDb = new Database(path.join(first, 'index.sqlite'), { readonly: true });
    const cold = firstDb.prepare('SELECT "values" AS v FROM losses ORDER BY iteration LIMIT 1').get() as { v: string };
    firstDb.close();
    const recon = (v: string): number => (JSON.parse(v) as { GA_recon: number }).GA_recon;
    expect(recon(losses.v)).toBeLessThan(recon(cold.v));

    const wider = await runCli(
      ['train', second, '--iterations', '2', '--from', first, ...TINY.map((f) => (f === '8' ? '16' : f))],
      env,
    );
    expect(wider.code).not.toBe(0);
    expect((wider.json.error as { message: string }).message).toMatch(
      /another shape .*width 8\/8.* than this run .*width 16\/16/,
    );
  });

  it("Method #1: the kNN pairs preview, and the model converts with the source's own decoder", async () => {
    const trained = await runCli(
      [
        'train',
        second,
        '--iterations',
        '2',
        ...TINY.slice(0, -1),
        '--parts-method',
        'augmented',
        '--augmented-part',
        'mouth',
        '--json',
      ],
      env,
    );
    expect(trained.code, trained.stdout + trained.stderr).toBe(0);
    const db = new Database(path.join(second, 'index.sqlite'), { readonly: true });
    const run = db.prepare('SELECT id FROM training_runs ORDER BY id DESC LIMIT 1').get() as { id: number };
    db.close();
    const pairs = path.join(second, 'previews', `run-${run.id}`, 'pairs.png');
    expect(existsSync(pairs)).toBe(true);
    const meta = await sharp(pairs).metadata();
    expect(meta.width).toBe(3 * 128);
    await selectBackend('wasm');
    const generator = await Generator.load(path.join(second, 'models', 'generator.fpm'));
    expect(generator.decoderFor('AtoB')).toBe('A');
    generator.dispose();
  });
});
