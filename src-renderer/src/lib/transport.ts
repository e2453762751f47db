import {
  ContractClient,
  ErrorCode,
  StudioError,
  type EngineEvent,
  type MethodName,
  type ParamsOf,
  type RequestEnvelope,
  type ResponseEnvelope,
  type ResultOf,
} from '../../../src-shared/contract/index.js';

/** What the native dialog should let the user choose. */
export interface PickPathOptions {
  /** 'directory': a folder (the dialog may offer to create one); 'file': an existing file. */
  kind: 'directory' | 'file';
  title?: string;
  /** Electron dialog filters, for kind 'file'. */
  filters?: { name: string; extensions: string[] }[];
}

/** The bridge the Electron preload exposes as `window.faceparts` (contextBridge). */
export interface FacepartsBridge {
  platform: 'electron';
  /** Sends one request envelope to the engine and resolves with its response envelope. */
  request(envelope: RequestEnvelope): Promise<ResponseEnvelope>;
  /** Subscribes to engine event envelopes; returns the unsubscribe function. */
  onEvent(callback: (envelope: unknown) => void): () => void;
  /** Native open dialog; resolves with the chosen absolute path or null when cancelled. */
  pickPath?(options: PickPathOptions): Promise<string | null>;
}

declare global {
  interface Window {
    faceparts?: FacepartsBridge;
  }
}

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'unauthorized' | 'closed';

export interface ConnectionInfo {
  state: ConnectionState;
  /** Failed attempts since the last successful connection. */
  attempt: number;
  /** When the next reconnect attempt is due (ms since epoch), while reconnecting. */
  retryAt: number | null;
  /** Why the last connection ended, for display. */
  detail: string | null;
}

export interface Transport {
  readonly kind: 'electron' | 'websocket';
  readonly connection: ConnectionInfo;
  request<M extends MethodName>(method: M, params: ParamsOf<M>, timeoutMs?: number): Promise<ResultOf<M>>;
  onEvent(listener: (event: EngineEvent) => void): () => void;
  /** Called at once with the current state, then on every change. */
  onConnection(listener: (info: ConnectionInfo) => void): () => void;
  /** Skips the backoff wait and tries to connect now (WebSocket only; no-op otherwise). */
  reconnectNow(): void;
  close(): void;
}

export interface TransportOptions {
  /** A reply or event that failed validation, or a message the engine could not attribute. */
  onInvalidMessage?: (error: StudioError) => void;
}

const TOKEN_KEY = 'faceparts.token';
/** Close codes a serve-mode engine uses to refuse a page (bad or missing token): no point retrying. */
const REFUSED_CODES = new Set([1008, 4401, 4403]);
const OPEN_WAIT_MS = 15_000;
const MAX_BACKOFF_MS = 10_000;

export function electronBridge(): FacepartsBridge | null {
  const bridge = typeof window === 'undefined' ? undefined : window.faceparts;
  return bridge && bridge.platform === 'electron' ? bridge : null;
}

let cachedToken: string | null | undefined;

/**
 * The serve-mode access token: taken from the page URL's `token` query parameter when present (then kept in
 * sessionStorage and removed from the address bar), otherwise from sessionStorage.
 */
export function sessionToken(): string | null {
  if (cachedToken === undefined) cachedToken = readToken();
  return cachedToken;
}

function readToken(): string | null {
  const url = new URL(window.location.href);
  const fromUrl = url.searchParams.get('token');
  if (!fromUrl) {
    try {
      return window.sessionStorage.getItem(TOKEN_KEY);
    } catch {
      return null;
    }
  }
  try {
    window.sessionStorage.setItem(TOKEN_KEY, fromUrl);
    // Kept for reloads, so it can leave the address bar (and bookmarks, and screenshots).
    url.searchParams.delete('token');
    window.history.replaceState(window.history.state, '', url.pathname + url.search + url.hash);
  } catch {
    // Storage disabled: leave the token in the URL so a reload still works.
  }
  return fromUrl;
}

export function webSocketUrl(): string {
  const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws';
  const token = sessionToken();
  const query = token ? `?token=${encodeURIComponent(token)}` : '';
  return `${scheme}://${window.location.host}/ws${query}`;
}

/** URL of a project-relative media file (thumbnail, crop, preview), for <img src>. */
export function mediaUrl(projectDir: string, relPath: string): string {
  if (electronBridge()) {
    return `faceparts-media://project/${encodeURIComponent(relPath)}?dir=${encodeURIComponent(projectDir)}`;
  }
  const token = sessionToken();
  const parts = [`dir=${encodeURIComponent(projectDir)}`, `path=${encodeURIComponent(relPath)}`];
  if (token) parts.push(`token=${encodeURIComponent(token)}`);
  return `/media?${parts.join('&')}`;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

class ConnectionListeners {
  private readonly listeners = new Set<(info: ConnectionInfo) => void>();
  info: ConnectionInfo;

  constructor(initial: ConnectionInfo) {
    this.info = initial;
  }

  add(listener: (info: ConnectionInfo) => void): () => void {
    this.listeners.add(listener);
    listener(this.info);
    return () => this.listeners.delete(listener);
  }

  set(info: ConnectionInfo): void {
    this.info = info;
    for (const listener of this.listeners) listener(info);
  }
}

/** Electron: requests and events travel over the preload bridge (IPC to the main process and the engine). */
class ElectronTransport implements Transport {
  readonly kind = 'electron' as const;
  private readonly client: ContractClient;
  private readonly unsubscribe: () => void;
  private readonly connections = new ConnectionListeners({ state: 'open', attempt: 0, retryAt: null, detail: null });

  constructor(
    private readonly bridge: FacepartsBridge,
    options: TransportOptions,
  ) {
    this.client = new ContractClient((envelope) => this.forward(envelope), {
      onInvalidMessage: options.onInvalidMessage,
    });
    this.unsubscribe = bridge.onEvent((envelope) => this.client.receive(envelope));
  }

  get connection(): ConnectionInfo {
    return this.connections.info;
  }

  private forward(envelope: RequestEnvelope): void {
    this.bridge.request(envelope).then(
      (reply) => this.client.receive(reply),
      (error: unknown) =>
        this.client.receive({
          kind: 'response',
          id: envelope.id,
          ok: false,
          error: { code: ErrorCode.engineGone, message: `${envelope.method}: ${describe(error)}` },
        }),
    );
  }

  request<M extends MethodName>(method: M, params: ParamsOf<M>, timeoutMs?: number): Promise<ResultOf<M>> {
    return this.client.request(method, params, timeoutMs);
  }

  onEvent(listener: (event: EngineEvent) => void): () => void {
    return this.client.onEvent(listener);
  }

  onConnection(listener: (info: ConnectionInfo) => void): () => void {
    return this.connections.add(listener);
  }

  reconnectNow(): void {}

  close(): void {
    this.unsubscribe();
    this.client.close('the window is closing');
    this.connections.set({ state: 'closed', attempt: 0, retryAt: null, detail: null });
  }
}

interface OpenWaiter {
  resolve: (client: ContractClient) => void;
  reject: (error: StudioError) => void;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * Serve mode: one WebSocket to /ws. Every connection gets a fresh ContractClient (the old one fails what was in
 * flight when the socket dropped); requests made while (re)connecting wait for the socket, up to a limit.
 */
class WebSocketTransport implements Transport {
  readonly kind = 'websocket' as const;
  private socket: WebSocket | null = null;
  private client: ContractClient | null = null;
  private everOpened = false;
  /** The client of the last socket that got through the handshake. */
  private lastOpened: ContractClient | null = null;
  private stopped = false;
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private waiters: OpenWaiter[] = [];
  private readonly eventListeners = new Set<(event: EngineEvent) => void>();
  private readonly connections = new ConnectionListeners({
    state: 'connecting',
    attempt: 0,
    retryAt: null,
    detail: null,
  });
  private readonly wake = (): void => {
    if (this.connections.info.state === 'reconnecting' && this.socket === null) this.reconnectNow();
  };

  constructor(
    private readonly url: () => string,
    private readonly healthUrl: () => string,
    private readonly options: TransportOptions,
  ) {
    window.addEventListener('online', this.wake);
    document.addEventListener('visibilitychange', this.wake);
    this.connect();
  }

  get connection(): ConnectionInfo {
    return this.connections.info;
  }

  private connect(): void {
    this.retryTimer = null;
    if (this.stopped) return;
    this.connections.set({
      state: this.everOpened || this.attempt > 0 ? 'reconnecting' : 'connecting',
      attempt: this.attempt,
      retryAt: null,
      detail: this.connections.info.detail,
    });
    let socket: WebSocket;
    try {
      socket = new WebSocket(this.url());
    } catch (error) {
      this.scheduleRetry(`could not open the connection: ${describe(error)}`);
      return;
    }
    this.socket = socket;
    const client = new ContractClient(
      (envelope) => {
        if (socket.readyState !== WebSocket.OPEN) throw new Error('not connected to the engine');
        socket.send(JSON.stringify(envelope));
      },
      { onInvalidMessage: this.options.onInvalidMessage },
    );
    client.onEvent((event) => {
      for (const listener of this.eventListeners) listener(event);
    });

    socket.addEventListener('open', () => {
      if (this.socket !== socket) return;
      this.client = client;
      this.lastOpened = client;
      this.everOpened = true;
      this.attempt = 0;
      this.connections.set({ state: 'open', attempt: 0, retryAt: null, detail: null });
      const waiters = this.waiters;
      this.waiters = [];
      for (const waiter of waiters) {
        clearTimeout(waiter.timer);
        waiter.resolve(client);
      }
    });
    socket.addEventListener('message', (message: MessageEvent) => {
      if (typeof message.data !== 'string') return;
      let raw: unknown;
      try {
        raw = JSON.parse(message.data);
      } catch {
        this.options.onInvalidMessage?.(
          new StudioError(ErrorCode.invalidMessage, 'the engine sent a message that is not JSON'),
        );
        return;
      }
      client.receive(raw);
    });
    socket.addEventListener('close', (event: CloseEvent) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.client = null;
      const why = event.reason ? `${event.code}: ${event.reason}` : `code ${event.code}`;
      client.close(`the connection to the engine was lost (${why})`);
      if (this.stopped) return;
      if (REFUSED_CODES.has(event.code)) {
        this.refused(event.reason || 'the engine refused this page (missing or wrong access token)');
        return;
      }
      if (client === this.lastOpened) {
        this.scheduleRetry(`connection lost (${why})`);
        return;
      }
      // The handshake failed. A browser cannot see the HTTP status of a refused upgrade (401, 403, 429 all read
      // as 1006), so ask the server whether it is up at all: up but refusing means the token is wrong.
      void this.serverIsUp().then((up) => {
        if (this.stopped || this.socket !== null) return;
        if (up) this.refused('the server is running but refused the connection: the access token is missing or wrong');
        else this.scheduleRetry(`cannot reach the engine (${why})`);
      });
    });
  }

  private async serverIsUp(): Promise<boolean> {
    try {
      const response = await fetch(this.healthUrl(), { cache: 'no-store' });
      return response.ok;
    } catch {
      return false;
    }
  }

  private refused(detail: string): void {
    this.connections.set({ state: 'unauthorized', attempt: this.attempt, retryAt: null, detail });
    this.failWaiters(
      new StudioError(ErrorCode.unauthorized, 'The engine refused this page.', {
        fix: 'Open the link that faceparts serve printed: it carries the access token.',
      }),
    );
  }

  private scheduleRetry(detail: string): void {
    if (this.stopped) return;
    const base = Math.min(MAX_BACKOFF_MS, 500 * 2 ** Math.min(this.attempt, 10));
    const delay = Math.round(base * (0.75 + Math.random() * 0.5));
    this.attempt += 1;
    this.connections.set({ state: 'reconnecting', attempt: this.attempt, retryAt: Date.now() + delay, detail });
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  private failWaiters(error: StudioError): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(error);
    }
  }

  private waitForOpen(): Promise<ContractClient> {
    if (this.client) return Promise.resolve(this.client);
    const state = this.connections.info.state;
    if (state === 'closed' || state === 'unauthorized') {
      return Promise.reject(
        new StudioError(
          state === 'closed' ? ErrorCode.engineGone : ErrorCode.unauthorized,
          'Not connected to the engine.',
          state === 'unauthorized'
            ? { fix: 'Open the link that faceparts serve printed: it carries the access token.' }
            : {},
        ),
      );
    }
    return new Promise<ContractClient>((resolve, reject) => {
      const waiter: OpenWaiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          reject(
            new StudioError(ErrorCode.engineGone, 'Not connected to the engine.', {
              fix: 'Check that faceparts serve is still running; the page reconnects by itself.',
            }),
          );
        }, OPEN_WAIT_MS),
      };
      this.waiters.push(waiter);
    });
  }

  async request<M extends MethodName>(method: M, params: ParamsOf<M>, timeoutMs?: number): Promise<ResultOf<M>> {
    const client = await this.waitForOpen();
    return client.request(method, params, timeoutMs);
  }

  onEvent(listener: (event: EngineEvent) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  onConnection(listener: (info: ConnectionInfo) => void): () => void {
    return this.connections.add(listener);
  }

  reconnectNow(): void {
    if (this.stopped || this.socket !== null) return;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.connect();
  }

  close(): void {
    this.stopped = true;
    window.removeEventListener('online', this.wake);
    document.removeEventListener('visibilitychange', this.wake);
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const socket = this.socket;
    this.socket = null;
    this.client?.close('the page closed the connection');
    this.client = null;
    socket?.close(1000, 'page closing');
    this.failWaiters(new StudioError(ErrorCode.engineGone, 'The connection to the engine was closed.'));
    this.connections.set({ state: 'closed', attempt: 0, retryAt: null, detail: null });
  }
}

/** Electron when the preload bridge is present, otherwise a WebSocket to the serving engine. */
export function createTransport(options: TransportOptions = {}): Transport {
  const bridge = electronBridge();
  if (bridge) return new ElectronTransport(bridge, options);
  return new WebSocketTransport(webSocketUrl, () => '/healthz', options);
}
