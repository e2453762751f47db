import { EngineToClient, parseOrThrow, parseResult, type RequestEnvelope } from './envelope.js';
import { ErrorCode, StudioError } from './errors.js';
import type { EngineEvent } from './events.js';
import type { MethodName, ParamsOf, ResultOf } from './methods.js';

export type EventListener = (event: EngineEvent) => void;

interface Pending {
  method: MethodName;
  resolve: (value: unknown) => void;
  reject: (error: StudioError) => void;
  timer: ReturnType<typeof setTimeout> | null;
}

/**
 * The caller's side of the contract over any transport (Electron IPC, WebSocket, child-process IPC).
 * It validates every reply and event it receives; a malformed one is reported, never trusted.
 */
export class ContractClient {
  private nextId = 1;
  private readonly pending = new Map<string | number, Pending>();
  private readonly listeners = new Set<EventListener>();
  private closedReason: string | null = null;

  constructor(
    private readonly send: (message: RequestEnvelope) => void,
    private readonly options: { timeoutMs?: number; onInvalidMessage?: (error: StudioError) => void } = {},
  ) {}

  request<M extends MethodName>(
    method: M,
    params: ParamsOf<M>,
    timeoutMs = this.options.timeoutMs ?? 0,
  ): Promise<ResultOf<M>> {
    if (this.closedReason !== null) {
      return Promise.reject(new StudioError(ErrorCode.engineGone, this.closedReason));
    }
    const id = this.nextId++;
    return new Promise<ResultOf<M>>((resolve, reject) => {
      const timer =
        timeoutMs > 0
          ? setTimeout(() => {
              this.pending.delete(id);
              reject(new StudioError(ErrorCode.timeout, `${method}: no reply within ${timeoutMs} ms`));
            }, timeoutMs)
          : null;
      this.pending.set(id, { method, resolve: resolve as (value: unknown) => void, reject, timer });
      try {
        this.send({ kind: 'request', id, method, params });
      } catch (error) {
        this.settle(id);
        reject(new StudioError(ErrorCode.engineGone, `${method}: could not send: ${String(error)}`));
      }
    });
  }

  onEvent(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Feed every message the transport delivers. */
  receive(raw: unknown): void {
    let message;
    try {
      message = parseOrThrow(EngineToClient, raw, ErrorCode.invalidMessage, 'message');
    } catch (error) {
      this.options.onInvalidMessage?.(error as StudioError);
      return;
    }
    if (message.kind === 'event') {
      for (const listener of this.listeners) listener(message.event);
      return;
    }
    if (message.id === null) {
      // An error about a message the engine could not attribute to a request.
      if (!message.ok) this.options.onInvalidMessage?.(StudioError.fromInfo(message.error));
      return;
    }
    const entry = this.settle(message.id);
    if (!entry) return;
    if (!message.ok) {
      entry.reject(StudioError.fromInfo(message.error));
      return;
    }
    try {
      entry.resolve(parseResult(entry.method, message.result));
    } catch (error) {
      entry.reject(error as StudioError);
    }
  }

  /** The transport ended: fail everything in flight and every later call. */
  close(reason: string): void {
    this.closedReason = reason;
    for (const [id, entry] of this.pending) {
      this.settle(id);
      entry.reject(new StudioError(ErrorCode.engineGone, reason));
    }
  }

  get isClosed(): boolean {
    return this.closedReason !== null;
  }

  private settle(id: string | number): Pending | undefined {
    const entry = this.pending.get(id);
    if (!entry) return undefined;
    this.pending.delete(id);
    if (entry.timer !== null) clearTimeout(entry.timer);
    return entry;
  }
}
