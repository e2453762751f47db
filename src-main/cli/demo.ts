/** `faceparts demo`: the whole studio on the bundled samples, ending in videos and a report.html. */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCode, StudioError, type JobInfo } from '../../src-shared/contract/index.js';
import { writeFileAtomic } from '../engine/io/atomic.js';
import { requireTool } from '../engine/media/tools.js';
import type { EngineProcess } from '../host-node/engine-process.js';
import { runJob } from './jobs.js';
import type { Output } from './output.js';

const here = path.dirname(fileURLToPath(import.meta.url));

function samplesDir(): string {
  const resourcesPath = (process as { resourcesPath?: string }).resourcesPath;
  const candidates = [
    ...(resourcesPath ? [path.join(resourcesPath, 'samples')] : []),
    path.resolve(here, '../../../resources/samples'),
    path.resolve(here, '../../resources/samples'),
  ];
  const found = candidates.find((p) => existsSync(path.join(p, 'sample-a.mp4')));
  if (!found)
    throw new StudioError(ErrorCode.notFound, 'the bundled sample clips are missing', {
      fix: 'reinstall FaceParts Studio',
    });
  return found;
}

function ensureDone(job: JobInfo, what: string): void {
  if (job.state === 'completed' || (what === 'training' && job.state === 'cancelled')) return;
  throw new StudioError(
    StudioError.fromInfo(job.error ?? { code: 'INTERNAL', message: `${what} ${job.state}` }).code,
    `${what} did not finish: ${job.error?.message ?? job.state}`,
    {
      fix: 'run the demo again: it resumes where it stopped',
    },
  );
}

function frameAt(video: string, index: number, file: string): void {
  execFileSync(requireTool('ffmpeg'), [
    '-v',
    'error',
    '-y',
    '-i',
    video,
    '-vf',
    `select=eq(n\\,${index})`,
    '-vframes',
    '1',
    file,
  ]);
}

function lossChart(rows: Array<{ iteration: number; values: Record<string, number> }>): string {
  const keys = ['GA', 'GB', 'DA', 'DB'];
  const colours = ['#e07a5f', '#3d85c6', '#81b29a', '#f2cc8f'];
  if (rows.length < 2) return '<p>Not enough iterations for a chart yet.</p>';
  const w = 640;
  const h = 220;
  const maxIt = rows[rows.length - 1]?.iteration ?? 1;
  const all = rows.flatMap((r) => keys.map((k) => r.values[k] ?? 0));
  const max = Math.max(...all, 1e-6);
  const lines = keys.map((k, i) => {
    const pts = rows
      .map(
        (r) =>
          `${((r.iteration / maxIt) * (w - 40) + 30).toFixed(1)},${(h - 20 - ((r.values[k] ?? 0) / max) * (h - 40)).toFixed(1)}`,
      )
      .join(' ');
    return `<polyline fill="none" stroke="${colours[i]}" stroke-width="1.5" points="${pts}"/><text x="${40 + i * 60}" y="14" fill="${colours[i]}" font-size="12">${k}</text>`;
  });
  return `<svg viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" role="img" aria-label="loss curves"><rect width="${w}" height="${h}" fill="#1b1e24"/>${lines.join('')}<text x="30" y="${h - 4}" fill="#999" font-size="11">iteration 0 - ${maxIt}; max ${max.toFixed(2)}</text></svg>`;
}

const escape = (s: string): string =>
  s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string);

/** One recognition net's identity figures in a conversion's metrics. */
interface IdentityFigures {
  meanDistanceToTarget: number | null;
  meanDistanceToSource: number | null;
  shareRecognisedAsTarget: number | null;
}

/** What the measured speed means: iterations an hour here, and the time to upstream's 18,000. */
function speedNote(speed: TrainingPlan['speed']): string {
  if (!speed) return '';
  return ` Measured here: ${(speed.msPerIteration / 1000).toFixed(1)} s an iteration on ${speed.threads} thread(s), ${speed.iterationsPerHour.toLocaleString('en-US')} iterations an hour; the 18,000 iterations upstream asks for a good swap would take ${speed.hoursTo18k} hours on this machine.`;
}

/** Fewest iterations a demo run should have to show learning (previews, falling losses). */
const MIN_DEMO_ITERATIONS = 150;

interface TrainingPlan {
  overrides: Record<string, unknown> & { iterations: number };
  speed: { msPerIteration: number; iterationsPerHour: number; hoursTo18k: number; threads: number } | null;
  label: string;
}

/**
 * The demo's training: candidates from the best-looking down (upstream's lite model with self-attention; on a
 * GPU the standard one first; without self-attention as the fallback), each timed on this machine, the first that
 * affords MIN_DEMO_ITERATIONS in the budget kept, its target set to what the budget affords, so the schedule and
 * the progress line fit the time the demo has.
 */
async function planTraining(
  out: Output,
  client: EngineProcess['client'],
  gpu: boolean,
  budgetSeconds: () => number,
): Promise<TrainingPlan> {
  const candidates: Array<{ label: string; overrides: Record<string, unknown> }> = [
    ...(gpu ? [{ label: 'a 64 px standard model', overrides: { capacity: 'standard', useSelfAttention: true } }] : []),
    { label: 'a 64 px lite model', overrides: { capacity: 'lite', useSelfAttention: true } },
    { label: 'a 64 px lite model without self-attention', overrides: { capacity: 'lite', useSelfAttention: false } },
  ];
  let chosen: TrainingPlan | null = null;
  for (const candidate of candidates) {
    out.info(`measuring ${candidate.label} on this machine`);
    const speed = await client.request('train.estimate', { overrides: { resolution: 64, ...candidate.overrides } });
    const affordable = Math.floor((budgetSeconds() * 1000) / speed.msPerIteration);
    out.info(
      `  ${(speed.msPerIteration / 1000).toFixed(1)} s an iteration on ${speed.threads} thread(s): ${affordable} iterations in the budget`,
    );
    const plan: TrainingPlan = {
      overrides: {
        ...candidate.overrides,
        resolution: 64,
        iterations: Math.max(3, Math.min(affordable, 100_000)),
        previewEvery: Math.max(5, Math.round(affordable / 12)),
        checkpointEvery: Math.max(10, Math.round(affordable / 6)),
      },
      speed,
      label: candidate.label,
    };
    if (!chosen || (chosen.speed?.msPerIteration ?? Infinity) > speed.msPerIteration) chosen = plan;
    if (affordable >= MIN_DEMO_ITERATIONS) return plan;
  }
  return chosen as TrainingPlan;
}

export async function runDemo(
  out: Output,
  engine: EngineProcess,
  options: { outDir: string; minutes: number; quick: boolean },
): Promise<Record<string, unknown>> {
  const started = Date.now();
  const samples = samplesDir();
  const outDir = path.resolve(options.outDir);
  const dir = path.join(outDir, 'project');
  mkdirSync(outDir, { recursive: true });
  const client = engine.client;
  if (!existsSync(path.join(dir, 'project.json'))) {
    await client.request('project.create', {
      dir,
      name: 'FaceParts demo',
      sourceA: path.join(samples, 'sample-a.mp4'),
      sourceB: path.join(samples, 'sample-b.mp4'),
    });
    out.info(`created ${dir}`);
  } else out.info(`resuming ${dir}`);

  out.info('1/3 extracting faces');
  ensureDone(await runJob(out, engine, dir, { type: 'extract', side: 'both' }), 'extraction');

  const info = await client.request('engine.probeBackend', {});
  const gpu = info.selected === 'webgpu' || info.selected === 'tfjs-node-gpu';
  const conversionBudget = options.quick ? 20 : 120;
  const budgetSeconds = (): number =>
    Math.max(15, options.minutes * 60 - (Date.now() - started) / 1000 - conversionBudget);
  // The configuration this machine can afford: the best-looking candidate that trains at least
  // MIN_DEMO_ITERATIONS in the budget, measured here (a few iterations each), else the fastest.
  const plan = options.quick
    ? {
        overrides: {
          iterations: 6,
          batchSize: 2,
          modelWidth: 8,
          discriminatorWidth: 8,
          useSelfAttention: false,
          previewEvery: 3,
          checkpointEvery: 3,
        },
        speed: null,
        label: 'a tiny model (quick mode)',
      }
    : await planTraining(out, client, gpu, budgetSeconds);
  const trainSeconds = budgetSeconds();
  out.info(
    `2/3 training ${plan.label} on ${info.selected}: ${plan.overrides.iterations} iterations, about ${Math.round(trainSeconds / 60)} min`,
  );
  // A guard only: the run's target already fits the budget.
  const cancelTimer = setTimeout(() => {
    if (options.quick) return;
    void client.request('jobs.list', { dir }).then(({ jobs }) => {
      const live = jobs.find((j) => j.spec.type === 'train' && ['running', 'queued', 'paused'].includes(j.state));
      if (live) void client.request('jobs.cancel', { jobId: live.id });
    });
  }, trainSeconds * 1500);
  const overrides = plan.overrides;
  try {
    ensureDone(await runJob(out, engine, dir, { type: 'train', overrides }), 'training');
  } finally {
    clearTimeout(cancelTimer);
  }
  if (!existsSync(path.join(dir, 'models', 'generator.fpm'))) {
    // The budget ran out before the first checkpoint: a few iterations so there is a model to convert with.
    ensureDone(
      await runJob(out, engine, dir, { type: 'train', overrides: { ...overrides, iterations: 3 } }),
      'training',
    );
  }

  out.info('3/3 converting the sample clip (whole face, then eyes only)');
  const input = path.join(samples, 'sample-a.mp4');
  const range = options.quick ? { end_frame: 60 } : {};
  const outputs: Record<string, string> = {};
  const metrics: Record<string, Record<string, unknown>> = {};
  for (const [segmentation, name] of [
    ['ALL', 'face'],
    ['EYES_ONLY', 'eyes'],
  ] as const) {
    // In the project's exports folder, where the studio lists and plays them.
    const output = path.join(dir, 'exports', `demo-${name}.mp4`);
    mkdirSync(path.dirname(output), { recursive: true });
    const job = await runJob(out, engine, dir, {
      type: 'convert',
      input,
      output,
      config: { segmentation, ...range },
      metricsOnly: false,
    });
    ensureDone(job, `conversion (${segmentation})`);
    outputs[segmentation] = output;
    metrics[segmentation] = JSON.parse(readFileSync(`${output}.metrics.json`, 'utf8')) as Record<string, unknown>;
  }

  // The report: sources, extraction numbers, loss curves, previews, before/after frames, metrics.
  const summary = await client.request('project.open', { dir });
  const run = summary.trainingRuns[summary.trainingRuns.length - 1];
  const history = run ? await client.request('train.history', { dir, runId: run.id }) : { losses: [], previews: [] };
  const losses = history.losses.map((r) => ({ iteration: r.iteration, values: r.losses }));
  const previews = history.previews;
  // A frame where the face was swapped, from the middle of the followed track.
  const track = JSON.parse(readFileSync(`${outputs.ALL as string}.track.json`, 'utf8')) as {
    start: number;
    smoothed: Array<unknown[] | null>;
  };
  const swappedFrames = track.smoothed.map((b, i) => (b ? track.start + i : -1)).filter((i) => i >= 0);
  const frame = swappedFrames[Math.floor(swappedFrames.length / 2)] ?? 0;
  const stills: Record<string, string> = { before: path.join(outDir, 'frame-before.png') };
  frameAt(input, frame, stills.before as string);
  for (const [seg, file] of Object.entries(outputs)) {
    stills[seg] = path.join(outDir, `frame-${seg.toLowerCase()}.png`);
    frameAt(file, frame, stills[seg] as string);
  }
  const rel = (p: string): string => escape(path.relative(outDir, p).split(path.sep).join('/'));
  const latestPreview = previews[previews.length - 1];
  const side = (s: 'a' | 'b'): string => {
    const src = summary.sources[s];
    const c = summary.counts[s];
    return `<tr><td>${s.toUpperCase()}</td><td>${escape(path.basename(src.path))}</td><td>${src.media.displayWidth}x${src.media.displayHeight}, ${src.media.frameCount} frames</td><td>${c.framesIndexed}</td><td>${c.facesKept}</td><td>${c.facesSkipped}</td><td>${c.tracks}</td></tr>`;
  };
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>FaceParts Studio demo report</title>
<style>body{font:14px/1.5 system-ui,sans-serif;background:#111318;color:#e6e6e6;margin:2rem auto;max-width:1000px;padding:0 1rem}h1,h2{font-weight:600}table{border-collapse:collapse}td,th{border-bottom:1px solid #333;padding:.3rem .8rem;text-align:left}img{max-width:100%;border-radius:4px}.row{display:flex;gap:1rem;flex-wrap:wrap}.row figure{flex:1;min-width:280px;margin:0}.note{color:#aaa}a{color:#8ab4f8}</style></head><body>
<h1>FaceParts Studio demo</h1>
<p class="note">Synthetic media made from public-domain samples (see resources/samples/ATTRIBUTION.md). ${escape(new Date().toISOString())}, ${Math.round((Date.now() - started) / 1000)} s on ${escape(String(info.selected))}.</p>
<h2>Sources and extraction</h2><table><tr><th>side</th><th>source</th><th>media</th><th>frames</th><th>faces kept</th><th>skipped</th><th>tracks</th></tr>${side('a')}${side('b')}</table>
<h2>Training</h2><p>Run ${run?.id ?? '-'}: ${run?.iteration ?? 0} iterations of ${escape(plan.label)} on ${escape(run?.backend ?? '-')}.${speedNote(plan.speed)} ${gpu ? '' : 'On CPU this is a short run: expect a rough likeness, not a finished swap; train longer (or on a GPU) for quality.'}</p>
${lossChart(losses)}
${latestPreview ? `<figure><img src="${rel(path.join(dir, latestPreview.path))}" alt="preview at iteration ${latestPreview.iteration}"><figcaption>Preview at iteration ${latestPreview.iteration}: for A (left) and B (right): input, reconstruction (raw, masked), swap (raw, masked), mask.</figcaption></figure>` : ''}
<h2>Conversion</h2><div class="row">${Object.entries(stills)
    .map(
      ([k, p]) =>
        `<figure><img src="${rel(p)}" alt="${escape(k)}"><figcaption>${k === 'before' ? 'source frame' : `${escape(k)} swap`}</figcaption></figure>`,
    )
    .join('')}</div>
<table><tr><th>output</th><th>frames</th><th>swapped</th><th title="placed face jitter, mean second difference of the patch corners (px)">jitter raw</th><th>smoothed</th><th title="CIELAB L* inside the swap region, result minus source (within 3 keeps the lightness)">&Delta;L*</th><th title="pixels outside the swap region that changed beyond codec noise, from the encoded file">changed outside</th><th title="landmark distance between source and result, per inter-ocular distance">landmark NME</th><th title="colour step at the mask border (CIELAB)">border &Delta;E</th><th title="face-api distance of the result to the target person (same person below 0.6) / to the source person">face-api target / source</th><th title="FaceRes cosine distance (an independent net; same person below 0.44) / to the source person">FaceRes target / source</th><th>recognised as target</th></tr>${Object.entries(
    outputs,
  )
    .map(([seg, file]) => {
      const m = metrics[seg] ?? {};
      const q = m as {
        outsideMask?: { changed: number; pixels: number };
        lightness?: { meanDeltaL: number | null };
        landmarkAgreement?: { meanNme: number | null };
        borderDeltaE?: { mean: number | null };
        identity?: IdentityFigures;
        identityIndependent?: IdentityFigures;
      };
      const num = (v: number | null | undefined, digits = 3): string =>
        typeof v === 'number' ? v.toFixed(digits) : '–';
      const pct = (v: number | null | undefined): string => (typeof v === 'number' ? `${Math.round(v * 100)} %` : '–');
      const outside = q.outsideMask ? `${q.outsideMask.changed} of ${(q.outsideMask.pixels / 1e6).toFixed(1)} M` : '–';
      const pair = (i: IdentityFigures | undefined): string =>
        `${num(i?.meanDistanceToTarget)} / ${num(i?.meanDistanceToSource)}`;
      return `<tr><td><a href="${rel(file)}">${escape(path.basename(file))}</a></td><td>${String(m.frames)}</td><td>${String(m.framesSwapped)}</td><td>${Number(m.jitterRawPx).toFixed(2)} px</td><td>${Number(m.jitterSmoothedPx).toFixed(2)} px</td><td>${num(q.lightness?.meanDeltaL, 2)}</td><td>${outside}</td><td>${num(q.landmarkAgreement?.meanNme)}</td><td>${num(q.borderDeltaE?.mean, 2)}</td><td>${pair(q.identity)}</td><td>${pair(q.identityIndependent)}</td><td>${pct(q.identity?.shareRecognisedAsTarget)} / ${pct(q.identityIndependent?.shareRecognisedAsTarget)}</td></tr>`;
    })
    .join('')}</table>
</body></html>
`;
  const report = path.join(outDir, 'report.html');
  await writeFileAtomic(report, html);
  return {
    report,
    videos: outputs,
    project: dir,
    iterations: run?.iteration ?? 0,
    trainingSpeed: plan.speed,
    backend: info.selected,
    seconds: Math.round((Date.now() - started) / 1000),
  };
}
