/**
 * Main-process side of the renderer <-> engine link: validates what the renderer asks, forwards it to the
 * engine under ids of its own, validates what the engine answers, tracks the open project folder (for the
 * media protocol), restarts a crashed engine once and shuts it down politely. No `electron` import: the
 * engine process is reached through the small EngineChild interface so this runs under plain Node in tests.
 */
import {
  EngineToClient,
  ErrorCode,
  StudioError,
  parseRequest,
  salvageRequestId,
  toErrorInfo,
  type EngineEvent,
  type ErrorInfo,
  type EventEnvelope,
  type MethodName,
  type ResponseEnvelope,
} from '../../src-shared/contract/index.js';
import { sameDirectory } from './security.js';

/** What the bridge needs of a running engine process (an Electron UtilityProcess in the app). */
export interface EngineChild {
  postMessage(message: unknown): void;
  kill(): unknown;
}

export interface EngineChildHandlers {
  message(raw: unknown): void;
  exit(code: number): void;
}

/** Start one engine process and route its messages and exit to the handlers. */
export type SpawnEngine = (handlers: EngineChildHandlers) => EngineChild;

export interface EngineBridgeOptions {
  /** Validated engine events (and the bridge's own engine.state / log events) for the renderer. */
  onEvent: (envelope: EventEnvelope) => void;
  /** Diagnostics for the terminal; defaults to console. */
  log?: (level: 'info' | 'warn' | 'error', message: string) => void;
  /** How many times an engine that exits unexpectedly is started again (default 1). */
  maxRestarts?: number;
  /** After the engine acknowledged engine.shutdown, how long it gets to exit before it is killed (default 2 s). */
  exitGraceMs?: number;
}

type RequestId = string | number | null;

type Pending =
  | {
      kind: 'renderer';
      rendererId: string | number;
      method: MethodName;
      params: unknown;
      resolve: (r: ResponseEnvelope) => void;
    }
  | { kind: 'internal'; resolve: (r: ResponseEnvelope) => void };

export function errorResponse(id: RequestId, error: ErrorInfo): ResponseEnvelope {
  return { kind: 'response', id, ok: false, error };
}

function eventEnvelope(event: EngineEvent): EventEnvelope {
  return { kind: 'event', event };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref?.());
}

export class EngineBridge {
  private child: EngineChild | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly exitWaiters: (() => void)[] = [];
  private restarts = 0;
  private stopping = false;
  private gone = false;
  private projectDir: string | null = null;
  private readonly maxRestarts: number;
  private readonly exitGraceMs: number;
  private readonly log: (level: 'info' | 'warn' | 'error', message: string) => void;

  constructor(
    private readonly spawn: SpawnEngine,
    private readonly options: EngineBridgeOptions,
  ) {
    this.maxRestarts = options.maxRestarts ?? 1;
    this.exitGraceMs = options.exitGraceMs ?? 2000;
    this.log =
      options.log ??
      ((level, message) => {
        console[level](`[faceparts] ${message}`);
      });
  }

  /** The project folder the renderer last opened or created successfully (media may be served from it). */
  get openProjectDir(): string | null {
    return this.projectDir;
  }

  get running(): boolean {
    return this.child !== null;
  }

  start(): void {
    if (this.child !== null || this.stopping) return;
    let child: EngineChild | null = null;
    const handlers: EngineChildHandlers = {
      message: (raw) => {
        if (child !== null && child === this.child) this.onMessage(raw);
      },
      exit: (code) => {
        if (child !== null && child === this.child) this.onExit(code);
      },
    };
    try {
      child = this.spawn(handlers);
    } catch (error) {
      this.log('error', `could not start the engine: ${toErrorInfo(error).message}`);
      this.markGone('the engine could not be started');
      return;
    }
    this.child = child;
    this.gone = false;
  }

  /**
   * Forward one request from the renderer. Always resolves with a response envelope (an error one when
   * the payload is malformed, the engine is gone or its reply is invalid); never throws.
   */
  request(raw: unknown): Promise<ResponseEnvelope> {
    let parsed: ReturnType<typeof parseRequest>;
    try {
      parsed = parseRequest(raw);
    } catch (error) {
      return Promise.resolve(errorResponse(salvageRequestId(raw), toErrorInfo(error)));
    }
    const { id: rendererId, method, params } = parsed;
    if (method === 'engine.shutdown') {
      return Promise.resolve(
        errorResponse(rendererId, {
          code: ErrorCode.unauthorized,
          message: 'engine.shutdown: the app stops the engine itself when it quits',
          field: 'method',
        }),
      );
    }
    const child = this.child;
    if (child === null || this.stopping) {
      return Promise.resolve(errorResponse(rendererId, this.goneInfo(method)));
    }
    return new Promise<ResponseEnvelope>((resolve) => {
      const engineId = this.nextId++;
      this.pending.set(engineId, { kind: 'renderer', rendererId, method, params, resolve });
      try {
        child.postMessage({ kind: 'request', id: engineId, method, params });
      } catch (error) {
        this.pending.delete(engineId);
        resolve(
          errorResponse(
            rendererId,
            new StudioError(
              ErrorCode.engineGone,
              `${method}: could not reach the engine: ${toErrorInfo(error).message}`,
            ).toInfo(),
          ),
        );
      }
    });
  }

  /**
   * Ask the engine to checkpoint and stop, wait for its reply or exit (at most timeoutMs), then kill it
   * if it is still there. In-flight renderer requests fail with ENGINE_GONE. Never rejects.
   */
  async shutdown(timeoutMs = 10_000): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (child === null) return;
    this.failAllPending('the engine is shutting down');
    const exited = new Promise<void>((resolve) => this.exitWaiters.push(resolve));
    const acknowledged = new Promise<void>((resolve) => {
      const engineId = this.nextId++;
      this.pending.set(engineId, { kind: 'internal', resolve: () => resolve() });
      try {
        child.postMessage({ kind: 'request', id: engineId, method: 'engine.shutdown', params: { checkpoint: true } });
      } catch (error) {
        this.pending.delete(engineId);
        this.log('warn', `could not ask the engine to shut down: ${toErrorInfo(error).message}`);
        resolve();
      }
    });
    const outcome = await Promise.race([
      exited.then(() => 'exited' as const),
      acknowledged.then(() =>
        Promise.race([exited.then(() => 'exited' as const), delay(this.exitGraceMs).then(() => 'lingered' as const)]),
      ),
      delay(timeoutMs).then(() => 'timeout' as const),
    ]);
    if (outcome !== 'exited' && this.child === child) {
      this.log(
        'warn',
        outcome === 'timeout'
          ? `engine did not stop within ${timeoutMs} ms; killing it`
          : 'engine did not exit after shutdown; killing it',
      );
      try {
        child.kill();
      } catch {
        // already gone
      }
      this.child = null;
      this.failAllPending('the engine was stopped');
      this.flushExitWaiters();
    }
  }

  private onMessage(raw: unknown): void {
    const checked = EngineToClient.safeParse(raw);
    if (!checked.success) {
      const issue = checked.error.issues[0];
      const detail = issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid message';
      this.log('warn', `ignored an invalid message from the engine: ${detail}`);
      // If it can still be matched to a request, fail that request rather than leave it hanging.
      const id = salvageRequestId(raw);
      if (typeof id === 'number') {
        this.settle(id, (rendererId) =>
          errorResponse(rendererId, {
            code: ErrorCode.invalidMessage,
            message: `engine sent an invalid reply: ${detail}`,
          }),
        );
      }
      return;
    }
    const message = checked.data;
    if (message.kind === 'event') {
      this.options.onEvent(message);
      return;
    }
    if (message.id === null || typeof message.id !== 'number' || !this.pending.has(message.id)) {
      if (!message.ok) {
        this.log('warn', `engine reported: ${message.error.code}: ${message.error.message}`);
        this.options.onEvent(eventEnvelope({ type: 'protocol.error', error: message.error }));
      } else {
        this.log('warn', `ignored a reply from the engine to unknown request ${String(message.id)}`);
      }
      return;
    }
    const entry = this.pending.get(message.id);
    if (entry?.kind === 'renderer' && message.ok) this.trackProject(entry.method, entry.params, message.result);
    this.settle(message.id, (rendererId) =>
      message.ok
        ? { kind: 'response', id: rendererId, ok: true, result: message.result }
        : errorResponse(rendererId, message.error),
    );
  }

  private onExit(code: number): void {
    this.child = null;
    this.flushExitWaiters();
    if (this.stopping) {
      this.failAllPending('the engine has stopped');
      return;
    }
    this.failAllPending(`the engine exited unexpectedly (code ${code})`);
    this.log('error', `engine exited unexpectedly with code ${code}`);
    this.emitState('stopping');
    if (this.restarts < this.maxRestarts) {
      this.restarts++;
      this.emitLog('warn', `The engine stopped unexpectedly (exit code ${code}); restarting it.`);
      this.start();
      if (this.child !== null) this.emitState('starting');
    } else {
      this.markGone(`the engine stopped unexpectedly (exit code ${code}) and was not restarted again`);
    }
  }

  private markGone(reason: string): void {
    this.gone = true;
    this.emitLog('error', `The engine is not running: ${reason}. Restart FaceParts Studio.`);
  }

  private goneInfo(method: string): ErrorInfo {
    const why = this.stopping
      ? 'the app is quitting'
      : this.gone
        ? 'the engine stopped and could not be restarted'
        : 'the engine is not running';
    return new StudioError(ErrorCode.engineGone, `${method}: ${why}`, { fix: 'restart FaceParts Studio' }).toInfo();
  }

  private trackProject(method: MethodName, params: unknown, result: unknown): void {
    if (method !== 'project.open' && method !== 'project.create' && method !== 'project.delete') return;
    const resultDir = (result as { dir?: unknown } | null)?.dir;
    const paramsDir = (params as { dir?: unknown } | null)?.dir;
    if (method === 'project.delete') {
      const deleted = (result as { deleted?: unknown } | null)?.deleted === true;
      if (
        deleted &&
        typeof paramsDir === 'string' &&
        this.projectDir !== null &&
        sameDirectory(paramsDir, this.projectDir)
      ) {
        this.projectDir = null;
      }
      return;
    }
    const dir = typeof resultDir === 'string' && resultDir !== '' ? resultDir : paramsDir;
    if (typeof dir === 'string' && dir !== '') this.projectDir = dir;
  }

  private settle(engineId: number, reply: (rendererId: string | number | null) => ResponseEnvelope): void {
    const entry = this.pending.get(engineId);
    if (!entry) return;
    this.pending.delete(engineId);
    entry.resolve(reply(entry.kind === 'renderer' ? entry.rendererId : null));
  }

  private failAllPending(reason: string): void {
    for (const [engineId, entry] of [...this.pending]) {
      this.pending.delete(engineId);
      if (entry.kind === 'internal') {
        entry.resolve(errorResponse(null, { code: ErrorCode.engineGone, message: reason }));
      } else {
        entry.resolve(
          errorResponse(entry.rendererId, { code: ErrorCode.engineGone, message: `${entry.method}: ${reason}` }),
        );
      }
    }
  }

  private flushExitWaiters(): void {
    for (const waiter of this.exitWaiters.splice(0)) waiter();
  }

  private emitState(status: 'starting' | 'stopping'): void {
    this.options.onEvent(eventEnvelope({ type: 'engine.state', status, backend: null }));
  }

  private emitLog(level: 'warn' | 'error', message: string): void {
    this.options.onEvent(eventEnvelope({ type: 'log', level, message, jobId: null, time: new Date().toISOString() }));
  }
}
