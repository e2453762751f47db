import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ContractClient, ErrorCode, StudioError, type RequestEnvelope } from '../../src-shared/contract/index.js';
import { engineEnvironment } from './engine-env.js';

/** The compiled engine entry next to this file (dist/src-main/engine/entry.js). */
export function engineEntryPath(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.join(here, '../engine/entry.js'), path.resolve(here, '../../dist/src-main/engine/entry.js')];
  const found = candidates.find((p) => existsSync(p));
  if (!found) {
    throw new StudioError(ErrorCode.internal, `the engine is not built (looked for ${candidates.join(', ')})`, {
      fix: 'run "npm run build"',
    });
  }
  return found;
}

/** The engine as a Node child process, behind a ContractClient. Used by the CLI and serve mode. */
export class EngineProcess {
  readonly client: ContractClient;
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(options: { env?: NodeJS.ProcessEnv; onInvalidMessage?: (error: StudioError) => void } = {}) {
    this.child = fork(engineEntryPath(), [], {
      env: engineEnvironment(process.env, { ...options.env, FACEPARTS_RUNTIME: 'node-child' }),
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const clientOptions: { onInvalidMessage?: (error: StudioError) => void } = {};
    if (options.onInvalidMessage) clientOptions.onInvalidMessage = options.onInvalidMessage;
    this.client = new ContractClient((message: RequestEnvelope) => this.sendRaw(message), clientOptions);
    this.child.on('message', (raw) => this.client.receive(raw));
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        this.client.close(`the engine stopped (${signal ?? `exit code ${code}`})`);
        resolve({ code, signal });
      });
    });
  }

  /** Send anything, valid or not (tests use this to send malformed messages). */
  sendRaw(message: unknown): void {
    if (!this.child.connected) throw new Error('engine is not connected');
    this.child.send(message as object);
  }

  /** Ask the engine to checkpoint and stop; kill it if it does not within the grace period. */
  async stop(graceMs = 15_000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    try {
      await this.client.request('engine.shutdown', { checkpoint: true }, graceMs).catch(() => undefined);
      await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}
