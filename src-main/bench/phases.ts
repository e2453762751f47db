/**
 * Benchmark phases, each run in its own process by bench.ts so that its peak memory is its own.
 * Usage: node phases.js <phase> '<json options>' -> prints one JSON line.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { selectBackend } from '../engine/backend/select.js';
import { runConvert } from '../engine/jobs/convert.js';
import type { JobSpec } from '../../src-shared/contract/index.js';
import type { JobContext } from '../engine/jobs/context.js';
import { runExtract } from '../engine/jobs/extract.js';
import { decodeFrames } from '../engine/media/decode.js';
import { probeSource } from '../engine/media/probe.js';
import { h264Args, rawRgbDecodeArgs, rawRgbInputArgs } from '../engine/media/ffmpeg-args.js';
import { requireTool } from '../engine/media/tools.js';
import { archFromSettings } from '../engine/model/config.js';
import { KEPT_MODELS_IDLE_MS, keepModelPools } from '../engine/pipeline/workers.js';
import { GENERATOR_FILE, ProjectStore } from '../engine/project/store.js';
import { TRACKING_CACHE_DIR } from '../engine/project/tracking-cache.js';
import { exportGenerator } from '../engine/train/checkpoint.js';
import { Trainer } from '../engine/train/trainer.js';
import { trainPhase, type TrainPhaseOptions } from './training.js';

type Options = Record<string, unknown>;

function context<S extends JobSpec>(
  store: ProjectStore,
  spec: S,
  onStage: (stage: string) => void = () => undefined,
): JobContext<S> {
  return {
    jobId: 'bench',
    store,
    spec,
    signal: new AbortController().signal,
    shutdownRequested: false,
    waitWhilePaused: () => Promise.resolve(),
    progress: (stage: string) => onStage(stage),
    log: () => undefined,
    emit: () => undefined,
  };
}

async function decodeOnly(o: Options): Promise<Record<string, unknown>> {
  const source = await probeSource(String(o.video));
  const t0 = performance.now();
  let n = 0;
  for await (const frame of decodeFrames(source, { stride: 1, startIndex: 0 })) if (frame.rgb) n += 1;
  return {
    frames: n,
    fps: n / ((performance.now() - t0) / 1000),
    clipFps: source.media.fps,
    size: `${source.media.displayWidth}x${source.media.displayHeight}`,
  };
}

/** ffmpeg decoding into raw frames piped into ffmpeg encoding with the export's settings: the floor for conversion. */
async function decodeEncode(o: Options): Promise<Record<string, unknown>> {
  const ffmpeg = requireTool('ffmpeg');
  const source = await probeSource(String(o.video));
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fp-bench-'));
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    const dec = spawn(ffmpeg, rawRgbDecodeArgs(source.path));
    const enc = spawn(ffmpeg, [
      '-v',
      'error',
      '-y',
      ...rawRgbInputArgs(
        source.media.displayWidth,
        source.media.displayHeight,
        source.media.frameRate ?? source.media.fps,
      ),
      ...h264Args(),
      path.join(dir, 'out.mp4'),
    ]);
    dec.stdout.pipe(enc.stdin);
    enc.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`encode exit ${code}`))));
  });
  const seconds = (performance.now() - t0) / 1000;
  rmSync(dir, { recursive: true, force: true });
  return { frames: source.media.frameCount, fps: source.media.frameCount / seconds };
}

async function extract(o: Options): Promise<Record<string, unknown>> {
  const dir = path.join(
    typeof o.workDir === 'string'
      ? mkdtempSync(path.join(o.workDir, 'extract-'))
      : mkdtempSync(path.join(os.tmpdir(), 'fp-bench-')),
    'project',
  );
  const a = await probeSource(String(o.video));
  const b = await probeSource(String(o.stills));
  const store = ProjectStore.create(dir, {
    sources: {
      a: { side: 'a', kind: a.kind, path: a.path, media: a.media },
      b: { side: 'b', kind: b.kind, path: b.path, media: b.media },
    },
    settings: { extraction: { frameStride: Number(o.stride ?? 1) } },
  });
  let stage = 'start';
  const memory = sampleMemory(() => stage);
  const t0 = performance.now();
  const result = (await runExtract(
    context(store, { type: 'extract' as const, side: 'a' as const }, (s) => (stage = s)),
  )) as {
    sides: { a: { framesRead: number; facesKept: number } };
    run: { pipeline: { msPerFrame: Record<string, number> } };
  };
  const seconds = (performance.now() - t0) / 1000;
  store.close();
  if (o.keep !== true) rmSync(path.dirname(dir), { recursive: true, force: true });
  return {
    frames: result.sides.a.framesRead,
    facesKept: result.sides.a.facesKept,
    fps: result.sides.a.framesRead / seconds,
    clipFps: a.media.fps,
    msPerFrame: result.run.pipeline.msPerFrame,
    memory: memory.stop(),
    project: o.keep === true ? dir : null,
  };
}

/**
 * Resident memory sampled every half second while a phase runs, with the job's stage at each sample: the peak, the
 * mean of the first and of the last quarter of the samples, and the same per stage (a job's stages hold different
 * models, so growth over a looped clip is read within a stage, not across them).
 */
function sampleMemory(stageOf: () => string = () => 'all'): { stop: () => Record<string, unknown> } {
  const samples: Array<{ stage: string; mb: number }> = [];
  const timer = setInterval(() => samples.push({ stage: stageOf(), mb: process.memoryUsage.rss() / 2 ** 20 }), 500);
  const mean = (xs: number[]): number => Math.round(xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length));
  const quarters = (xs: number[]): { samples: number; firstQuarterRssMB: number; lastQuarterRssMB: number } => {
    const q = Math.max(1, Math.floor(xs.length / 4));
    return { samples: xs.length, firstQuarterRssMB: mean(xs.slice(0, q)), lastQuarterRssMB: mean(xs.slice(-q)) };
  };
  return {
    stop: () => {
      clearInterval(timer);
      const all = samples.map((s) => s.mb);
      const byStage: Record<string, ReturnType<typeof quarters>> = {};
      for (const stage of new Set(samples.map((s) => s.stage)))
        byStage[stage] = quarters(samples.filter((s) => s.stage === stage).map((s) => s.mb));
      return { ...quarters(all), peakRssMB: Math.round(Math.max(0, ...all)), byStage };
    },
  };
}

/** Conversion speed with a lite generator, 64 px unless asked (untrained weights: speed does not depend on training). */
async function convert(o: Options): Promise<Record<string, unknown>> {
  await selectBackend('auto');
  const project = String(o.project);
  const store = ProjectStore.open(project);
  const arch = archFromSettings({
    resolution: (o.resolution as 64 | 128 | undefined) ?? 64,
    capacity: 'lite',
    useSelfAttention: true,
    norm: 'instancenorm',
    modelWidth: o.modelWidth as number | undefined,
  });
  const trainer = new Trainer({ arch, batchSize: 1, totalIterations: 1, seed: 1, learningRateFactor: 1 });
  await exportGenerator(path.join(store.dir, GENERATOR_FILE), trainer, {});
  trainer.dispose();
  const output = path.join(store.dir, 'exports', 'bench.mp4');
  const spec = {
    type: 'convert' as const,
    input: String(o.video),
    output,
    config: o.endFrame ? { end_frame: Number(o.endFrame) } : {},
    metricsOnly: false,
  };
  // Each measured conversion starts without a tracking pass kept from an earlier one (project/tracking-cache.ts)...
  rmSync(path.join(store.dir, TRACKING_CACHE_DIR), { recursive: true, force: true });
  if (o.keptModels) {
    // ... but an export again in the same engine: the first one's pool (models, generator) kept, as an engine keeps
    // it, and its tracking pass too.
    keepModelPools(KEPT_MODELS_IDLE_MS);
    await runConvert(context(store, spec));
  }
  let stage = 'start';
  const memory = sampleMemory(() => stage);
  const t0 = performance.now();
  // Wall seconds from the start to each of the job's stages first being reported (pass 1, 2, the export check).
  const stageStarts: Record<string, number> = {};
  const result = (await runConvert(
    context(store, spec, (s) => {
      stage = s;
      stageStarts[s] ??= Math.round(performance.now() - t0) / 1000;
    }),
  )) as { frames: number; framesSwapped: number; pipeline: { msPerFrame: Record<string, number> } };
  const seconds = (performance.now() - t0) / 1000;
  store.close();
  return {
    ...result,
    fps: result.frames / seconds,
    msPerFrame: result.pipeline.msPerFrame,
    stageStartSeconds: { ...stageStarts, end: Math.round(seconds * 1000) / 1000 },
    memory: memory.stop(),
  };
}

/** A 1080p version of the clip (upscaled), so extraction is measured on 30 px-class faces too. */
async function upscale(o: Options): Promise<Record<string, unknown>> {
  execFileSync(requireTool('ffmpeg'), [
    '-v',
    'error',
    '-y',
    '-i',
    String(o.video),
    '-vf',
    'scale=1920:1080',
    ...h264Args(18),
    '-an',
    String(o.output),
  ]);
  return { output: o.output };
}

/** The clip played over and over up to `minutes` (streams copied, audio too): a long video to watch memory on. */
async function loop(o: Options): Promise<Record<string, unknown>> {
  const seconds = Number(o.minutes) * 60;
  execFileSync(requireTool('ffmpeg'), [
    '-v',
    'error',
    '-y',
    '-stream_loop',
    '-1',
    '-i',
    String(o.video),
    '-t',
    String(seconds),
    '-c',
    'copy',
    String(o.output),
  ]);
  return { output: o.output, seconds };
}

const phases: Record<string, (o: Options) => Promise<Record<string, unknown>>> = {
  decodeOnly,
  decodeEncode,
  extract,
  train: (o) => trainPhase(o as unknown as TrainPhaseOptions),
  convert,
  upscale,
  loop,
};

const [name, json] = process.argv.slice(2);
const phase = phases[name ?? ''];
if (!phase) {
  console.error(`unknown phase ${name}; one of ${Object.keys(phases).join(', ')}`);
  process.exit(2);
}
phase(JSON.parse(json ?? '{}') as Options)
  .then((result) => {
    console.log(JSON.stringify({ ...result, peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024) }));
    process.exit(0);
  })
  .catch((error: unknown) => {
    console.log(JSON.stringify({ error: String((error as Error).message ?? error) }));
    process.exit(1);
  });
