import path from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import {
  ConverterConfig,
  ExtractionSettings,
  TrainingSettings,
  ErrorCode,
  StudioError,
  WarmStartParts,
  describeOption,
  type JobInfo,
  type ProjectSummary,
} from '../../src-shared/contract/index.js';
import { sideLine } from '../../src-shared/vocabulary.js';
import { EXIT, Output, usageError } from './output.js';
import { addFlags, flagSet, valuesFromFlags } from './options.js';
import { runJob, withEngine } from './jobs.js';

function formatSummary(p: ProjectSummary): string {
  const side = (s: 'a' | 'b'): string => {
    const src = p.sources[s];
    const m = src.media;
    const c = p.counts[s];
    return (
      `  ${s.toUpperCase()}: ${src.path}\n` +
      `     ${src.kind}, ${m.displayWidth}x${m.displayHeight}, ${m.frameCount} frames` +
      (src.kind === 'video'
        ? ` @ ${m.fps.toFixed(2)} fps, ${m.durationSeconds.toFixed(1)} s${m.hasAudio ? ', audio' : ''}`
        : '') +
      `\n     indexed ${c.framesIndexed}, faces kept ${c.facesKept}, skipped ${c.facesSkipped}, tracks ${c.tracks}, mask edits ${c.maskEdits}`
    );
  };
  const t = p.settings.training;
  return [
    `${p.name}  (${p.dir})`,
    side('a'),
    side('b'),
    `  training: ${t.resolution} px ${t.capacity}, ${t.iterations} iterations, batch ${t.batchSize}, backend ${t.backend}`,
    `  runs: ${p.trainingRuns.length}, exports: ${p.exports.length}`,
  ].join('\n');
}

function jobOutcome(out: Output, job: JobInfo, human: () => string): number {
  if (job.state === 'completed') {
    out.result({ job: job.id, state: job.state, ...(job.result ?? {}) }, human);
    return EXIT.ok;
  }
  const error = job.error ?? { code: ErrorCode.internal, message: `job ended as ${job.state}` };
  return out.error(
    new StudioError(StudioError.fromInfo(error).code, error.message, {
      ...(error.fix ? { fix: error.fix } : {}),
      ...(error.file ? { file: error.file } : {}),
    }),
  );
}

function parseIntOption(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n)) throw usageError(`--${name} must be an integer (got "${value}")`, name);
    return n;
  };
}

export function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command('faceparts')
    .description(
      `FaceParts Studio: swap whole faces or chosen face parts between two people in video. Person ${sideLine('a')}; person ${sideLine('b')}.`,
    )
    .showHelpAfterError()
    .exitOverride();

  const jsonFlag = (c: Command): Command => c.option('--json', 'print one JSON object as the last stdout line');

  // The extraction settings are the project's: given when it is made.
  const extractionFlags = flagSet(ExtractionSettings, 'kebab', 'params.settings.extraction');
  const newCommand = jsonFlag(
    program.command('new <dir>').description('create a project from two videos or image folders'),
  )
    .requiredOption('--a <source>', `video or image folder of person ${sideLine('a')}`)
    .requiredOption('--b <source>', `video or image folder of person ${sideLine('b')}`)
    .option('--name <name>', 'project name (default: the folder name)');
  addFlags(newCommand, extractionFlags).action(
    async (dir: string, opts: { a: string; b: string; name?: string; json?: boolean }) => {
      const out = new Output(Boolean(opts.json));
      const extraction = valuesFromFlags(newCommand, extractionFlags);
      try {
        const summary = await withEngine(out, (engine) =>
          engine.client.request('project.create', {
            dir: path.resolve(dir),
            sourceA: path.resolve(opts.a),
            sourceB: path.resolve(opts.b),
            ...(opts.name ? { name: opts.name } : {}),
            ...(Object.keys(extraction).length ? { settings: { extraction } } : {}),
          }),
        );
        out.result({ project: summary }, () => `created project\n${formatSummary(summary)}`);
      } catch (error) {
        setExit(out.error(error));
      }
    },
  );

  jsonFlag(program.command('info <dir>').description('show a project: sources, counts, settings, runs')).action(
    async (dir: string, opts: { json?: boolean }) => {
      const out = new Output(Boolean(opts.json));
      try {
        const summary = await withEngine(out, (engine) =>
          engine.client.request('project.open', { dir: path.resolve(dir) }),
        );
        out.result({ project: summary }, () => formatSummary(summary));
      } catch (error) {
        setExit(out.error(error));
      }
    },
  );

  jsonFlag(
    program
      .command('timelapse <dir>')
      .description("a training run's previews as a timelapse (MP4 or animated WebP) in the run's preview folder"),
  )
    .option('--run <n>', 'the run (default: the newest)', parseIntOption('run'))
    .addOption(new Option('--format <format>', 'file format').choices(['mp4', 'webp']).default('mp4'))
    .option('--fps <n>', 'previews a second', parseIntOption('fps'))
    .action(async (dir: string, opts: { run?: number; format: 'mp4' | 'webp'; fps?: number; json?: boolean }) => {
      const out = new Output(Boolean(opts.json));
      try {
        const project = path.resolve(dir);
        const made = await withEngine(out, (engine) =>
          engine.client.request('train.timelapse', {
            dir: project,
            format: opts.format,
            ...(opts.run === undefined ? {} : { runId: opts.run }),
            ...(opts.fps === undefined ? {} : { framesPerSecond: opts.fps }),
          }),
        );
        out.result(
          { ...made, file: path.join(project, made.path) },
          () => `timelapse of run ${made.runId} (${made.frames} previews): ${path.join(project, made.path)}`,
        );
      } catch (error) {
        setExit(out.error(error));
      }
    });

  jsonFlag(program.command('extract <dir>').description('find, track and align faces; resumes where it stopped'))
    .addOption(new Option('--side <side>', 'which side to extract').choices(['a', 'b', 'both']).default('both'))
    .action(async (dir: string, opts: { side: 'a' | 'b' | 'both'; json?: boolean }) => {
      const out = new Output(Boolean(opts.json));
      try {
        const job = await withEngine(out, (engine) =>
          runJob(out, engine, path.resolve(dir), { type: 'extract', side: opts.side }),
        );
        setExit(jobOutcome(out, job, () => `extraction finished: ${JSON.stringify(job.result)}`));
      } catch (error) {
        setExit(out.error(error));
      }
    });

  jsonFlag(
    program
      .command('choose <dir>')
      .description("choose a side's person by a reference photo or a track id; then run extract again"),
  )
    .addOption(new Option('--side <side>', 'which side').choices(['a', 'b']).makeOptionMandatory())
    .option('--reference <image>', 'a photo of the person to follow')
    .option('--track <id>', 'a track id shown by the timeline', parseIntOption('track'))
    .action(async (dir: string, opts: { side: 'a' | 'b'; reference?: string; track?: number; json?: boolean }) => {
      const out = new Output(Boolean(opts.json));
      try {
        if (!opts.reference && opts.track === undefined)
          throw usageError('give --reference <image> or --track <id>', 'reference');
        const result = await withEngine(out, (engine) =>
          opts.reference
            ? engine.client.request('faces.chooseByReference', {
                dir: path.resolve(dir),
                side: opts.side,
                image: path.resolve(opts.reference),
              })
            : engine.client.request('faces.chooseTrack', {
                dir: path.resolve(dir),
                side: opts.side,
                trackId: opts.track as number,
              }),
        );
        out.result(
          { ...result },
          () =>
            `side ${opts.side.toUpperCase()} now follows track ${result.trackId}; run "faceparts extract ${dir} --side ${opts.side}" to align that person`,
        );
      } catch (error) {
        setExit(out.error(error));
      }
    });

  const trainingFlags = flagSet(TrainingSettings, 'kebab', 'params.job.overrides');
  /** --from-parts' choices and their words, as the contract declares them. */
  const WARM_PARTS = describeOption('from-parts', WarmStartParts);
  const trainCommand = jsonFlag(
    program
      .command('train <dir>')
      .description(
        "train the swap model; resumes from the last checkpoint. Settings left out keep the project's own (the defaults below until changed)",
      ),
  );
  addFlags(trainCommand, trainingFlags)
    .option(
      '--from <project-or-model>',
      'start a new run from a model trained before: a project folder, a checkpoint (.fpck) or a model (.fpm)',
    )
    .addOption(
      new Option(
        '--from-parts <parts>',
        `what --from takes: ${(WARM_PARTS.choices ?? []).map((c) => `${c.value} (${c.label.toLowerCase()})`).join(', ')}`,
      )
        .choices(WarmStartParts.options)
        .default('generator'),
    )
    .action(
      async (dir: string, opts: { from?: string; fromParts?: 'encoder' | 'generator' | 'all'; json?: boolean }) => {
        const out = new Output(Boolean(opts.json));
        const overrides = valuesFromFlags(trainCommand, trainingFlags);
        try {
          const job = await withEngine(out, (engine) =>
            runJob(out, engine, path.resolve(dir), {
              type: 'train',
              overrides,
              ...(opts.from ? { from: { path: path.resolve(opts.from), parts: opts.fromParts ?? 'generator' } } : {}),
            }),
          );
          setExit(jobOutcome(out, job, () => `training finished: ${JSON.stringify(job.result)}`));
        } catch (error) {
          setExit(out.error(error));
        }
      },
    );

  // Converter flags carry the converter config's own field names (--color_correction HISTMATCH).
  const converterFlags = flagSet(ConverterConfig, 'key', 'params.job.config');
  const convertCommand = jsonFlag(
    program
      .command('convert <dir>')
      .description(
        "swap faces (or face parts) in a video with the trained model: by default a video of A, where A wears B’s face. Settings left out keep the project's converter defaults",
      ),
  )
    .requiredOption('--input <video>', 'video to convert')
    .requiredOption('--output <file>', 'output video file')
    .option('--metrics-only', 'only measure quality of an existing conversion');
  addFlags(convertCommand, converterFlags).action(
    async (dir: string, opts: { input: string; output: string; metricsOnly?: boolean; json?: boolean }) => {
      const out = new Output(Boolean(opts.json));
      try {
        const job = await withEngine(out, (engine) =>
          runJob(out, engine, path.resolve(dir), {
            type: 'convert',
            input: path.resolve(opts.input),
            output: path.resolve(opts.output),
            config: valuesFromFlags(convertCommand, converterFlags),
            metricsOnly: Boolean(opts.metricsOnly),
          }),
        );
        setExit(jobOutcome(out, job, () => `conversion finished: ${JSON.stringify(job.result)}`));
      } catch (error) {
        setExit(out.error(error));
      }
    },
  );

  jsonFlag(program.command('serve').description('serve the studio UI to a browser (HTTP + WebSocket)'))
    .option('--host <host>', 'address to bind (other than loopback requires the printed token)', '127.0.0.1')
    .option('--port <port>', 'port (0 picks a free one)', parseIntOption('port'), 7770)
    .option('--token <token>', 'access token, 16 characters or more (default: random when binding beyond loopback)')
    .option(
      '--allow-host <names>',
      'host names the browser may use besides localhost, comma-separated (e.g. a LAN name); others are refused',
      (value: string, previous: string[]) => [
        ...previous,
        ...value
          .split(',')
          .map((n) => n.trim())
          .filter(Boolean),
      ],
      [] as string[],
    )
    .action(async (opts: { host: string; port: number; token?: string; allowHost: string[]; json?: boolean }) => {
      const out = new Output(Boolean(opts.json));
      try {
        const { startServer } = await import('../serve/server.js');
        const server = await startServer({
          host: opts.host,
          port: opts.port,
          allowedHosts: opts.allowHost,
          ...(opts.token !== undefined ? { token: opts.token } : {}),
        });
        out.result(
          {
            url: server.url,
            host: server.host,
            port: server.port,
            tokenRequired: server.tokenRequired,
            token: server.token,
          },
          () =>
            [
              `FaceParts Studio is served at ${server.url}`,
              server.tokenRequired ? `access token: ${server.token}` : '',
              'Ctrl-C to stop',
            ]
              .filter(Boolean)
              .join('\n'),
        );
        await new Promise<void>((resolve) => {
          const stop = (): void => resolve();
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
        });
        await server.close();
      } catch (error) {
        setExit(out.error(error));
      }
    });

  jsonFlag(program.command('bench').description('measure extraction, training and conversion against their references'))
    .option('--quick', 'small shapes and a short clip: checks the document in under two minutes')
    .option('--demo <dir>', "the demo's output folder, whose conversion metrics the report includes", 'faceparts-demo')
    .option(
      '--loop-minutes <m>',
      'instead: extract and convert the sample clip looped to m minutes, and report whether memory grows',
      parseIntOption('loop-minutes'),
    )
    .action(async (opts: { quick?: boolean; json?: boolean; demo: string; loopMinutes?: number }) => {
      const out = new Output(Boolean(opts.json));
      try {
        const { runBench, benchTable } = await import('../bench/bench.js');
        // The benchmark runs the engine's code in this process: its compute line comes from here.
        const { onBackendChosen } = await import('../engine/backend/select.js');
        const { computeLine } = await import('../../src-shared/compute.js');
        const offChosen = onBackendChosen((report) => process.stderr.write(`${computeLine(report)}\n`));
        out.info(
          opts.loopMinutes
            ? `benchmark (a ${opts.loopMinutes}-minute video: about ${Math.ceil(opts.loopMinutes * 2.5)} minutes on 2 cores)...`
            : opts.quick
              ? 'benchmark (quick)...'
              : 'benchmark (full; several minutes on CPU)...',
        );
        const report = await runBench({
          quick: Boolean(opts.quick),
          demoDir: path.resolve(opts.demo),
          ...(opts.loopMinutes ? { loopMinutes: opts.loopMinutes } : {}),
        }).finally(offChosen);
        out.result(report, () => benchTable(report));
      } catch (error) {
        setExit(out.error(error));
      }
    });

  jsonFlag(
    program
      .command('demo')
      .description('run the whole studio on the bundled sample clips: extract, train, convert, report'),
  )
    .option('--out <dir>', 'where the project, videos and report.html go', 'faceparts-demo')
    .option('--minutes <m>', 'time budget for the whole demo', (v: string) => Number(v), 15)
    .option('--quick', 'a tiny model for a minute or two (what the tests run)')
    .action(async (opts: { out: string; minutes: number; quick?: boolean; json?: boolean }) => {
      const out = new Output(Boolean(opts.json));
      try {
        const { runDemo } = await import('./demo.js');
        const result = await withEngine(out, (engine) =>
          runDemo(out, engine, { outDir: opts.out, minutes: opts.minutes, quick: Boolean(opts.quick) }),
        );
        out.result(result, () =>
          [
            `report: ${String(result.report)}`,
            ...Object.entries(result.videos as Record<string, string>).map(([k, v]) => `video (${k}): ${v}`),
            `project: ${String(result.project)} (open it with "faceparts serve")`,
          ].join('\n'),
        );
      } catch (error) {
        setExit(out.error(error));
      }
    });
  return program;
}

export async function main(argv: string[]): Promise<number> {
  let code: number = EXIT.ok;
  const program = buildProgram((c) => (code = c));
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.exitCode === 0)
        return EXIT.ok;
      const json = argv.includes('--json');
      if (json)
        process.stdout.write(
          `${JSON.stringify({ error: { code: ErrorCode.invalidParams, message: error.message } })}\n`,
        );
      return EXIT.usage;
    }
    return new Output(argv.includes('--json')).error(error);
  }
  return code;
}
