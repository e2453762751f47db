import { spawn } from 'node:child_process';
import { CLI, REPO } from './paths.js';

/** A tiny model for `faceparts train`, for tests about everything but the quality of the swap. */
export const TINY_MODEL: readonly string[] = [
  '--batch-size',
  '2',
  '--model-width',
  '8',
  '--discriminator-width',
  '8',
  '--no-self-attention',
];

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The last stdout line parsed as JSON (the --json contract). */
  json: Record<string, unknown>;
}

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: REPO,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const last = stdout.trim().split('\n').pop() ?? '';
      let json: Record<string, unknown> = {};
      try {
        json = JSON.parse(last) as Record<string, unknown>;
      } catch {
        /* not --json output */
      }
      resolve({ code, stdout, stderr, json });
    });
  });
}
