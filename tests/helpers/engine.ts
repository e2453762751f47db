import { EngineProcess } from '../../src-main/host-node/engine-process.js';
import type { JobInfo } from '../../src-shared/contract/index.js';
import type { ParamsOf } from '../../src-shared/contract/methods.js';

/** An engine child process for a test, with its own studio home (and `env` added to its environment). */
export function startEngine(home: string, env: NodeJS.ProcessEnv = {}): EngineProcess {
  return new EngineProcess({ env: { FACEPARTS_HOME: home, ...env } });
}

/** Wait for the next message from the engine that matches. */
export function nextMessage(
  engine: EngineProcess,
  match: (message: Record<string, unknown>) => boolean,
  timeoutMs = 20_000,
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      engine.child.off('message', onMessage);
      reject(new Error('timed out waiting for an engine message'));
    }, timeoutMs);
    const onMessage = (raw: unknown): void => {
      const message = raw as Record<string, unknown>;
      if (match(message)) {
        clearTimeout(timer);
        engine.child.off('message', onMessage);
        resolve(message);
      }
    };
    engine.child.on('message', onMessage);
  });
}

/** Start a job in a project through the engine and wait for its end (completed, failed or cancelled). */
export async function runJobThrough(
  engine: EngineProcess,
  dir: string,
  job: ParamsOf<'jobs.start'>['job'],
): Promise<JobInfo> {
  let off: () => void = () => undefined;
  const ended = new Promise<JobInfo>((resolve) => {
    off = engine.client.onEvent((event) => {
      if (event.type === 'job.state' && ['completed', 'failed', 'cancelled'].includes(event.job.state))
        resolve(event.job);
    });
  });
  const started = await engine.client.request('jobs.start', { dir, job });
  let info = await ended;
  while (info.id !== started.id) info = await engine.client.request('jobs.get', { jobId: started.id });
  off();
  return info;
}
