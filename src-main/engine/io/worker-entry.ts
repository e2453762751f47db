import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Start the worker-thread module `name` (without extension) that lies beside `base` (an import.meta.url): the
 * compiled .js in the app and the CLI; from the TypeScript sources (tests), the .ts through tsx. Workers inherit
 * the engine's Node flags (a profiler's too).
 */
export function startWorker(base: string, name: string, options: WorkerOptions = {}): Worker {
  const js = new URL(`./${name}.js`, base);
  if (existsSync(fileURLToPath(js))) return new Worker(js, options);
  return new Worker(new URL(`./${name}.ts`, base), {
    ...options,
    execArgv: [...process.execArgv, '--import', 'tsx'],
  });
}
