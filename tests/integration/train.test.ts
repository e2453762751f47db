import { cpSync, readdirSync, truncateSync, statSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src-main/engine/backend/select.js';
import { archFromSettings } from '../../src-main/engine/model/config.js';
import { ProjectStore } from '../../src-main/engine/project/store.js';
import { MaskStore } from '../../src-main/engine/masks/edits.js';
import { loadLatestCheckpoint, saveCheckpoint } from '../../src-main/engine/train/checkpoint.js';
import { FaceSet } from '../../src-main/engine/train/dataset.js';
import { Trainer, type LossRecord } from '../../src-main/engine/train/trainer.js';
import { PerceptualNet } from '../../src-main/engine/train/perceptual.js';
import { FaceNets } from '../../src-main/engine/landmarks/face-nets.js';
import { TINY_MODEL, runCli } from '../helpers/cli.js';
import { nextMessage, startEngine } from '../helpers/engine.js';
import { scratch } from '../helpers/paths.js';
import { synthClip } from '../helpers/synth.js';
import { recordReliability } from '../helpers/reliability.js';

/** Small enough for CI on two cores: the full sizes are measured by the benchmark. */
const TINY = {
  resolution: 64 as const,
  capacity: 'lite' as const,
  useSelfAttention: false,
  norm: 'instancenorm' as const,
  modelWidth: 8,
  discriminatorWidth: 8,
};
const TINY_FLAGS = [...TINY_MODEL, '--seed', '7'];

describe('training on faces extracted from the A and B stills', () => {
  let root: string;
  let project: string;
  let home: string;
  let faces: FaceSet;

  beforeAll(async () => {
    root = scratch('train');
    home = path.join(root, 'home');
    const a = await synthClip(path.join(root, 'clips', 'a'), ['a_obama_1.jpg', 'a_obama_2.jpg'], 3);
    const b = await synthClip(path.join(root, 'clips', 'b'), ['b_biden_2.jpg', 'b_biden_1.jpg'], 3);
    project = path.join(root, 'project');
    expect((await runCli(['new', project, '--a', a, '--b', b, '--json'], { FACEPARTS_HOME: home })).code).toBe(0);
    const extracted = await runCli(['extract', project, '--json'], { FACEPARTS_HOME: home });
    expect(extracted.code, extracted.stdout).toBe(0);
    await selectBackend('wasm');
    const store = ProjectStore.open(project);
    faces = await FaceSet.fromProject(store);
    store.close();
  });

  const trainer = (seed = 3): Trainer =>
    new Trainer({ arch: archFromSettings(TINY), batchSize: 2, totalIterations: 20_000, seed, learningRateFactor: 1 });

  it("a hand-edited eyes mask replaces that face's automatic one in the eye-weighted losses", async () => {
    const store = ProjectStore.open(project);
    try {
      const face = store.db
        .prepare(
          `SELECT id FROM faces WHERE side = 'a' AND status = 'kept' AND crop IS NOT NULL ORDER BY frame_idx, id`,
        )
        .get() as { id: number };
      // A square on the forehead of the aligned crop, far from the eyes.
      await new MaskStore(store).save(
        face.id,
        'eyes',
        [
          [100, 30],
          [156, 30],
          [156, 60],
          [100, 60],
        ],
        null,
      );
      const edited = await FaceSet.fromProject(store);
      expect(edited.editedEyeMasks).toBe(1);
      const eyes = (edited.faces.a[0] as { eyes: Uint8Array }).eyes;
      const automatic = (faces.faces.a[0] as { eyes: Uint8Array }).eyes;
      expect(eyes[45 * 256 + 128]).toBe(255); // inside the square
      expect(automatic[45 * 256 + 128]).toBe(0);
      // Where the automatic mask has an eye (below the square's dilated reach), the edited one is empty.
      const eye = automatic.findIndex((v, i) => v > 200 && Math.floor(i / 256) >= 75);
      expect(eye).toBeGreaterThan(0);
      expect(eyes[eye]).toBe(0);
      await new MaskStore(store).reset(face.id);
    } finally {
      store.close();
    }
  });

  it('lowers the reconstruction loss of both sides, with a flat tensor count', async () => {
    const t = trainer();
    const history: LossRecord[] = [];
    let tensorsAfterWarmup = 0;
    for (let i = 0; i < 50; i += 1) {
      history.push(await t.step(faces));
      if (i === 1) tensorsAfterWarmup = tf.memory().numTensors;
    }
    expect(tf.memory().numTensors).toBe(tensorsAfterWarmup);
    const mean = (key: string, from: number, to: number): number =>
      history.slice(from, to).reduce((s, l) => s + (l[key] as number), 0) / (to - from);
    for (const side of ['A', 'B']) {
      const first = mean(`G${side}_recon`, 0, 5);
      const last = mean(`G${side}_recon`, 45, 50);
      expect(last, `G${side}_recon ${first.toFixed(3)} -> ${last.toFixed(3)}`).toBeLessThan(first * 0.85);
    }
    for (const value of Object.values(history[49] as LossRecord)) expect(Number.isFinite(value)).toBe(true);
    t.dispose();
  });

  it('trains with relativistic LSGAN, the cycle loss and the perceptual loss on: every term finite, recon falls, no leak', async () => {
    const perceptual = await PerceptualNet.fromFaceNets(await FaceNets.load());
    // 20 iterations in all: the scaled schedule turns the perceptual loss on at iteration 8.
    const t = new Trainer({
      arch: archFromSettings(TINY),
      batchSize: 2,
      totalIterations: 20,
      seed: 5,
      learningRateFactor: 1,
      adversarial: 'ralsgan',
      cycle: true,
      perceptual,
    });
    try {
      const history: LossRecord[] = [];
      let tensors = 0;
      for (let i = 0; i < 16; i += 1) {
        history.push(await t.step(faces));
        if (i === 9) tensors = tf.memory().numTensors;
      }
      expect(tf.memory().numTensors).toBe(tensors);
      expect(history[0]).not.toHaveProperty('GA_pl');
      const last = history[15] as LossRecord;
      for (const key of ['GA_adv', 'GA_cycle', 'GA_pl', 'GB_pl', 'GB_cycle', 'DA', 'DB'])
        expect(Number.isFinite(last[key]), key).toBe(true);
      expect(last.GA_pl).toBeGreaterThan(0);
      const mean = (key: string, from: number, to: number): number =>
        history.slice(from, to).reduce((sum, r) => sum + (r[key] as number), 0) / (to - from);
      expect(mean('GA_cycle', 12, 16)).toBeLessThan(mean('GA_cycle', 0, 4));
    } finally {
      t.dispose();
      perceptual.dispose();
    }
  });

  it('resumes from a checkpoint exactly where an uninterrupted run would be', async () => {
    const straight = trainer(11);
    const expected = [
      await straight.step(faces),
      await straight.step(faces),
      await straight.step(faces),
      await straight.step(faces),
    ];
    straight.dispose();

    const dir = path.join(root, 'ckpt-exact');
    const first = trainer(11);
    await first.step(faces);
    await first.step(faces);
    await saveCheckpoint(dir, first, {}, 3);
    first.dispose();

    const resumed = trainer(99); // a different seed: everything must come from the checkpoint
    const header = await loadLatestCheckpoint(dir, resumed, () => undefined);
    expect(header?.iteration).toBe(2);
    expect([await resumed.step(faces), await resumed.step(faces)]).toEqual(expected.slice(2));
    resumed.dispose();
  });

  it('falls back to the previous checkpoint when the newest is damaged', async () => {
    const dir = path.join(root, 'ckpt-damaged');
    const t = trainer(5);
    await t.step(faces);
    await saveCheckpoint(dir, t, {}, 3);
    await t.step(faces);
    const newest = await saveCheckpoint(dir, t, {}, 3);
    t.dispose();
    truncateSync(newest, Math.floor(statSync(newest).size / 2));
    const warnings: string[] = [];
    const again = trainer(5);
    const header = await loadLatestCheckpoint(dir, again, (w) => warnings.push(w));
    expect(header?.iteration).toBe(1);
    expect(warnings.join()).toMatch(/damaged.*checksum|truncated/);
    recordReliability('damaged newest checkpoint', { faults: 1 });
    again.dispose();
  });

  it('faceparts train: after SIGKILL it resumes from the last checkpoint and matches an uninterrupted run', async () => {
    const straight = path.join(root, 'straight');
    const killed = path.join(root, 'killed');
    cpSync(project, straight, { recursive: true });
    cpSync(project, killed, { recursive: true });
    const args = ['--iterations', '6', '--checkpoint-every', '3', '--preview-every', '3', ...TINY_FLAGS, '--json'];
    const done = await runCli(['train', straight, ...args], { FACEPARTS_HOME: home });
    expect(done.code, done.stdout + done.stderr).toBe(0);
    expect(done.json).toMatchObject({ state: 'completed', iteration: 6, generator: 'models/generator.fpm' });

    const engine = startEngine(home);
    const pastCheckpoint = nextMessage(
      engine,
      (m) =>
        m.kind === 'event' &&
        (m.event as { type: string; iteration?: number }).type === 'train.losses' &&
        (m.event as { iteration: number }).iteration >= 4,
      120_000,
    );
    await engine.client.request('jobs.start', {
      dir: killed,
      job: {
        type: 'train',
        overrides: {
          iterations: 6,
          checkpointEvery: 3,
          previewEvery: 3,
          batchSize: 2,
          modelWidth: 8,
          discriminatorWidth: 8,
          useSelfAttention: false,
          seed: 7,
        },
      },
    });
    await pastCheckpoint;
    engine.child.kill('SIGKILL');
    await engine.exited;
    expect(readdirSync(path.join(killed, 'checkpoints', 'run-1'))).toEqual(['ckpt-00000003.fpck']);

    const resumed = await runCli(['train', killed, ...args], { FACEPARTS_HOME: home });
    expect(resumed.code, resumed.stdout + resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/resumed run 1 at iteration 3/);
    const losses = (dir: string): Array<{ iteration: number; values: string }> => {
      const db = new Database(path.join(dir, 'index.sqlite'), { readonly: true });
      const rows = db
        .prepare('SELECT iteration, "values" FROM losses WHERE run_id = 1 ORDER BY iteration')
        .all() as Array<{ iteration: number; values: string }>;
      db.close();
      return rows;
    };
    expect(losses(killed)).toEqual(losses(straight));
    expect(losses(killed)).toHaveLength(6);
    recordReliability('SIGKILL during training', { faults: 1, dataLost: 6 - losses(killed).length });
    // The preview is a real picture: six 64 px columns per side (shown at 2x), four rows, faces in the input column.
    const file = path.join(killed, 'previews', 'run-1', '00000006.png');
    expect(await sharp(file).metadata()).toMatchObject({ width: 2 * 6 * 64 * 2, height: 4 * 64 * 2 });
    const preview = await sharp(file).stats();
    expect(preview.channels[0]?.stdev).toBeGreaterThan(20);
  });
});
