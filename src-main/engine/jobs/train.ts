import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { z } from 'zod';
import {
  TrainingSettings,
  parseOrThrow,
  pairsImagePath,
  ErrorCode,
  StudioError,
} from '../../../src-shared/contract/index.js';
import type { TrainJobSpec } from '../../../src-shared/contract/jobs.js';
import { selectBackend } from '../backend/select.js';
import { writeFileAtomic } from '../io/atomic.js';
import { archFromSettings, type ArchConfig } from '../model/config.js';
import { GENERATOR_FILE } from '../project/store.js';
import { RunsRepo, type RunRow } from '../project/runs-repo.js';
import { exportGenerator, loadLatestCheckpoint, saveCheckpoint } from '../train/checkpoint.js';
import { FaceSet } from '../train/dataset.js';
import { previewPng } from '../train/preview.js';
import { PerceptualNet } from '../train/perceptual.js';
import { FaceNets } from '../landmarks/face-nets.js';
import { startLoader, type BatchLoader } from '../train/loader.js';
import { ThreadPool, threadsFor } from '../train/parallel.js';
import { Trainer } from '../train/trainer.js';
import { warmStart } from '../train/warm-start.js';
import { augmentWithTargetParts, pairsPng, type PartsAugmentation } from '../train/parts-method.js';
import { closeKeptModelPool } from '../pipeline/workers.js';
import type { JobContext } from './context.js';

type TrainSpec = z.output<typeof TrainJobSpec>;

/**
 * The run to train. A run id continues that run, which must keep its model shape (its checkpoints hold those
 * weights); 'new' starts a new run from iteration 0. Without either (the CLI): the newest run with the same model
 * shape that is unfinished or below the new target ("train to 30k" after a 20k run goes on from 20k), else a new
 * one. A continued run records the settings it now trains with; its target never drops below where it is.
 */
function trainingRun(
  runs: RunsRepo,
  arch: ArchConfig,
  total: number,
  settings: TrainingSettings,
  wanted: TrainSpec['run'],
): { id: number; resumed: boolean } {
  const rows = runs.list().reverse();
  // A run written without its model shape (an index edited by hand, a test) matches no shape.
  const recordedArch = (row: RunRow): ArchConfig | undefined => row.config.arch as ArchConfig | undefined;
  const sameShape = (row: RunRow): boolean => JSON.stringify(recordedArch(row)) === JSON.stringify(arch);
  const resume = (row: RunRow): { id: number; resumed: boolean } => {
    runs.continueWith(row.id, { arch, settings }, total);
    return { id: row.id, resumed: true };
  };
  if (typeof wanted === 'number') {
    const row = rows.find((item) => item.id === wanted);
    if (!row)
      throw new StudioError(ErrorCode.notFound, `this project has no training run ${wanted}`, {
        field: 'params.job.run',
        fix: 'pick a run the project lists, or start a new run',
      });
    if (!sameShape(row)) {
      const was = (recordedArch(row) ?? {}) as Record<string, unknown>;
      const now = arch as unknown as Record<string, unknown>;
      const changed = Object.keys(now)
        .filter((key) => JSON.stringify(was[key]) !== JSON.stringify(now[key]))
        .map((key) => `${key} ${JSON.stringify(was[key])} -> ${JSON.stringify(now[key])}`);
      throw new StudioError(
        ErrorCode.invalidParams,
        `run ${wanted} has another model shape (${changed.join(', ')}), so its checkpoints cannot continue with these settings`,
        { field: 'params.job.run', fix: `keep run ${wanted}'s model settings, or start a new run` },
      );
    }
    return resume(row);
  }
  if (wanted === undefined) {
    for (const row of rows) {
      if (sameShape(row) && (row.state !== 'completed' || total > row.iteration)) return resume(row);
    }
  }
  return { id: runs.create({ arch, settings }, total), resumed: false };
}

/** Training as a job: resumes from the newest good checkpoint, streams losses and previews, checkpoints on stop. */
export async function runTrain(ctx: JobContext<TrainSpec>): Promise<Record<string, unknown>> {
  const { store } = ctx;
  // Training wants the memory the last conversion's kept models hold (~230 MB with a 64 px model).
  await closeKeptModelPool();
  const settings = parseOrThrow(
    TrainingSettings,
    { ...store.project.settings.training, ...ctx.spec.overrides },
    ErrorCode.invalidParams,
    'params.job.overrides',
  );
  const report = await selectBackend(settings.backend);
  ctx.log('info', `training on the ${report.selected} backend`);
  const faces = await FaceSet.fromProject(store);
  if (faces.editedEyeMasks > 0)
    ctx.log('info', `${faces.editedEyeMasks} face(s) train with their hand-edited eyes mask`);
  // The recognition net behind the perceptual loss (face-api's weights, a few MB), loaded once per run.
  const perceptual = settings.perceptualLoss ? await PerceptualNet.fromFaceNets(await FaceNets.load()) : null;
  // Method #1: the target's part pasted into every source face, before any batch is drawn.
  let method1: PartsAugmentation | null = null;
  if (settings.partsMethod === 'augmented') {
    const net = perceptual ?? (await PerceptualNet.fromFaceNets(await FaceNets.load()));
    method1 = await augmentWithTargetParts(faces, net, settings.augmentedPart);
    if (!perceptual) net.dispose();
    ctx.log(
      'info',
      `Method #1: ${method1.pairs.length} faces of A carry the ${settings.augmentedPart} of their nearest face of B (feature distance ${method1.meanMatchedDistance}; other pairs ${method1.meanOtherDistance})`,
    );
  }
  const arch = archFromSettings(settings);
  const runs = new RunsRepo(store.db);
  const run = trainingRun(runs, arch, settings.iterations, settings, ctx.spec.run);
  const checkpointDir = path.join(store.dir, 'checkpoints', `run-${run.id}`);
  const trainer = new Trainer({
    arch,
    batchSize: settings.batchSize,
    totalIterations: settings.iterations,
    seed: settings.seed,
    learningRateFactor: settings.learningRateFactor,
    weights: settings.lossWeights,
    adversarial: settings.adversarialLoss,
    cycle: settings.cycleLoss,
    perceptual,
  });
  const setRun = (state: string, checkpoint: string | null = null): void =>
    runs.setState(run.id, state, {
      iteration: trainer.iteration,
      backend: report.selected,
      checkpoint: checkpoint ? path.relative(store.dir, checkpoint) : null,
    });
  const writeLoss = runs.lossWriter(run.id);
  let loader: BatchLoader | null = null;
  let pool: ThreadPool | null = null;
  try {
    const header = await loadLatestCheckpoint(checkpointDir, trainer, (message) => ctx.log('warn', message));
    if (header) ctx.log('info', `resumed run ${run.id} at iteration ${header.iteration}`);
    else if (run.resumed) ctx.log('info', `run ${run.id} had no usable checkpoint; starting it again from iteration 0`);
    if (method1) {
      // The kNN matches, for the studio: source face | matched target face | the training image made of them.
      const rel = pairsImagePath(run.id);
      await fs.mkdir(path.dirname(path.join(store.dir, rel)), { recursive: true });
      await writeFileAtomic(path.join(store.dir, rel), await pairsPng(method1.examples));
      ctx.emit({
        type: 'train.preview',
        jobId: ctx.jobId,
        projectDir: store.dir,
        runId: run.id,
        iteration: 0,
        path: rel,
      });
    }
    const from = ctx.spec.from;
    if (from && !header) {
      const started = await warmStart(trainer, from.path, from.parts);
      // The run records where it started from (its history and the studio show it).
      runs.setStartedFrom(run.id, started);
      ctx.log(
        'info',
        `run ${run.id} starts from ${started.file} (its ${started.parts}, iteration ${started.iteration}: ${started.variables} variables)`,
      );
    } else if (from)
      ctx.log('warn', `run ${run.id} continues from its own checkpoint; the warm start applies to new runs only`);
    setRun('running');
    // The batch split across CPU threads (data-parallel), after the checkpoint so the threads get its weights.
    const backend = report.selected ?? 'cpu';
    pool = await ThreadPool.start(trainer, threadsFor(settings.threads, backend, settings.batchSize), {
      perceptual: Boolean(perceptual),
      backend,
    });
    await trainer.attachPool(pool);
    ctx.log('info', `training on ${pool?.threads ?? 1} thread(s)`);
    // Run lists (the Train page's picker) show the run as running from its start, not only once it ends.
    ctx.emit({ type: 'project.changed', projectDir: store.dir, what: 'training' });
    let lastSaved = trainer.iteration;
    const checkpoint = async (): Promise<void> => {
      if (trainer.iteration === lastSaved && header) return;
      const file = await saveCheckpoint(checkpointDir, trainer, { runId: run.id, settings }, settings.keepCheckpoints);
      lastSaved = trainer.iteration;
      setRun('running', file);
    };
    const started = Date.now();
    const startIteration = trainer.iteration;
    loader = startLoader(
      faces,
      { count: settings.batchSize, size: arch.resolution, motionBlur: settings.motionBlur },
      trainer.dataRng.seedState,
    );
    while (trainer.iteration < settings.iterations && !ctx.signal.aborted) {
      await ctx.waitWhilePaused();
      if (ctx.signal.aborted) break;
      const losses = await trainer.stepPrepared(await loader.next());
      const it = trainer.iteration;
      writeLoss(it, losses);
      const rate = ((it - startIteration) * 1000) / Math.max(1, Date.now() - started);
      ctx.emit({
        type: 'train.losses',
        jobId: ctx.jobId,
        projectDir: store.dir,
        runId: run.id,
        iteration: it,
        losses,
        iterationsPerSecond: rate,
      });
      ctx.progress('train', it, settings.iterations);
      if (it % settings.checkpointEvery === 0) await checkpoint();
      if (it % settings.previewEvery === 0 || it === settings.iterations) {
        const rel = path.posix.join('previews', `run-${run.id}`, `${String(it).padStart(8, '0')}.png`);
        await fs.mkdir(path.join(store.dir, 'previews', `run-${run.id}`), { recursive: true });
        await writeFileAtomic(path.join(store.dir, rel), await previewPng(trainer, faces));
        runs.addPreview(run.id, it, rel);
        ctx.emit({
          type: 'train.preview',
          jobId: ctx.jobId,
          projectDir: store.dir,
          runId: run.id,
          iteration: it,
          path: rel,
        });
      }
      // Yield to the event loop so cancel, pause and progress messages get through between steps.
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (trainer.iteration !== lastSaved || !header) await checkpoint();
    const finished = trainer.iteration >= settings.iterations;
    if (finished) {
      await exportGenerator(path.join(store.dir, GENERATOR_FILE), trainer, {
        runId: run.id,
        faces: { a: faces.faces.a.length, b: faces.faces.b.length },
        settings,
      });
    }
    setRun(finished ? 'completed' : ctx.signal.aborted ? 'stopped' : 'running');
    ctx.emit({ type: 'project.changed', projectDir: store.dir, what: 'training' });
    return {
      runId: run.id,
      iteration: trainer.iteration,
      target: settings.iterations,
      backend: report.selected,
      generator: GENERATOR_FILE,
      tensors: tf.memory().numTensors,
    };
  } catch (error) {
    setRun('failed');
    if (error instanceof StudioError) throw error;
    throw new StudioError(
      ErrorCode.internal,
      `training failed at iteration ${trainer.iteration}: ${(error as Error).message}`,
      {
        fix: 'run training again to resume from the last checkpoint',
      },
    );
  } finally {
    await loader?.close();
    await pool?.close();
    trainer.dispose();
    perceptual?.dispose();
  }
}
