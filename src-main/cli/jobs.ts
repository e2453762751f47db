import cliProgress from 'cli-progress';
import {
  ErrorCode,
  StudioError,
  type EngineEvent,
  type JobInfo,
  type JobSpec,
} from '../../src-shared/contract/index.js';
import { EngineProcess } from '../host-node/engine-process.js';
import type { Output } from './output.js';

/** How many runJob calls are following a job: they print the engine's messages then (around their progress bar). */
let following = 0;

/** An engine message on stderr: info as it is (the compute line), warnings and errors with their level. */
function printLog(event: Extract<EngineEvent, { type: 'log' }>): void {
  if (event.level === 'debug') return;
  process.stderr.write(event.level === 'info' ? `${event.message}\n` : `${event.level}: ${event.message}\n`);
}

export async function withEngine<T>(out: Output, work: (engine: EngineProcess) => Promise<T>): Promise<T> {
  const engine = new EngineProcess({
    onInvalidMessage: (e) => out.warn(`engine sent an invalid message: ${e.message}`),
  });
  // What the engine says outside any job (a project repaired on opening, partial files removed, which compute it
  // chose) reaches the user on every command; a job's own messages are printed by runJob.
  const unsubscribe = engine.client.onEvent((event) => {
    if (event.type === 'log' && event.jobId === null && following === 0) printLog(event);
  });
  try {
    return await work(engine);
  } finally {
    unsubscribe();
    await engine.stop();
  }
}

/** Start a job and follow it to its end, with a progress bar on a terminal; Ctrl-C cancels (work so far is kept). */
export async function runJob(out: Output, engine: EngineProcess, dir: string, job: JobSpec): Promise<JobInfo> {
  const bar = out.interactive
    ? new cliProgress.SingleBar(
        {
          format: ' {stage} |{bar}| {value}/{total} {rate}/s ETA {eta_formatted}',
          hideCursor: true,
          clearOnComplete: true,
        },
        cliProgress.Presets.shades_classic,
      )
    : null;
  let barStarted = false;
  let jobId: string | null = null;
  let lastLine = 0;
  let finish: (info: JobInfo) => void = () => undefined;
  const finished = new Promise<JobInfo>((resolve) => (finish = resolve));
  const early: EngineEvent[] = [];
  const onEvent = (event: EngineEvent): void => {
    if (jobId === null) {
      early.push(event);
      return;
    }
    if (event.type === 'job.progress' && event.jobId === jobId) {
      if (bar) {
        if (!barStarted || bar.getTotal() !== event.total) {
          if (barStarted) bar.stop();
          bar.start(event.total, event.done, { stage: event.stage, rate: event.rate.toFixed(1) });
          barStarted = true;
        }
        bar.update(event.done, { stage: event.stage, rate: event.rate.toFixed(1) });
      } else if (Date.now() - lastLine > 2000 || event.done === event.total) {
        lastLine = Date.now();
        const eta = event.etaSeconds === null ? '' : `, ETA ${Math.round(event.etaSeconds)} s`;
        process.stderr.write(`${event.stage}: ${event.done}/${event.total} (${event.rate.toFixed(1)}/s${eta})\n`);
      }
    } else if (event.type === 'log' && event.jobId === jobId) {
      if (barStarted) bar?.stop();
      barStarted = false;
      process.stderr.write(`${event.level}: ${event.message}\n`);
    } else if (event.type === 'log' && event.jobId === null && event.level !== 'debug') {
      if (barStarted) bar?.stop();
      barStarted = false;
      printLog(event);
    } else if (
      event.type === 'job.state' &&
      event.job.id === jobId &&
      ['completed', 'failed', 'cancelled'].includes(event.job.state)
    ) {
      finish(event.job);
    }
  };
  const unsubscribe = engine.client.onEvent(onEvent);
  following += 1;
  const onSigint = (): void => {
    if (jobId) {
      out.warn('\ncancelling (finished work is kept; run the command again to resume)...');
      void engine.client.request('jobs.cancel', { jobId }).catch(() => undefined);
    }
  };
  process.on('SIGINT', onSigint);
  try {
    const started = await engine.client.request('jobs.start', { dir, job });
    jobId = started.id;
    for (const event of early.splice(0)) onEvent(event);
    const done = await Promise.race([
      finished,
      engine.exited.then(({ code, signal }) => {
        throw new StudioError(ErrorCode.engineGone, `the engine stopped during the job (${signal ?? `exit ${code}`})`, {
          fix: 'run the command again to resume',
        });
      }),
    ]);
    return done;
  } finally {
    if (barStarted) bar?.stop();
    process.off('SIGINT', onSigint);
    unsubscribe();
    following -= 1;
  }
}
