import type { EngineToClient } from '../../../src-shared/contract/index.js';
import { Engine, type EngineRuntime } from './engine.js';

/** A message channel to one client: where requests come from and replies/events go to. */
export interface Channel {
  onMessage(handler: (raw: unknown) => void): void;
  post(message: EngineToClient): void;
  close(): void;
}

/** Wire an engine to a channel: every message is answered, every event forwarded. */
export function serveChannel(runtime: EngineRuntime, channel: Channel): Engine {
  const engine = new Engine(runtime);
  engine.onEvent((event) => channel.post({ kind: 'event', event }));
  channel.onMessage((raw) => {
    void engine.handle(raw).then((reply) => channel.post(reply));
  });
  engine.onShutdown(() => channel.close());
  return engine;
}
