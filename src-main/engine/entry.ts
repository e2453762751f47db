/**
 * The engine process. One entry for every host: an Electron utilityProcess (process.parentPort),
 * or a Node child process (process.send / 'message'), with the same envelopes on both.
 */
import type { EngineToClient } from '../../src-shared/contract/index.js';
import { serveChannel, type Channel } from './host/transport.js';
import { KEPT_MODELS_IDLE_MS, keepModelPools } from './pipeline/workers.js';

interface ParentPort {
  on(event: 'message', listener: (e: { data: unknown }) => void): void;
  postMessage(message: unknown): void;
}

const parentPort = (process as unknown as { parentPort?: ParentPort }).parentPort;

function electronChannel(port: ParentPort): Channel {
  return {
    onMessage: (handler) => port.on('message', (e) => handler(e.data)),
    post: (message: EngineToClient) => port.postMessage(message),
    close: () => process.exit(0),
  };
}

function childChannel(): Channel {
  if (!process.send) {
    console.error('faceparts engine: start me through the CLI, serve mode or the desktop app (no IPC channel)');
    process.exit(2);
  }
  return {
    onMessage: (handler) => process.on('message', handler),
    post: (message: EngineToClient) => {
      if (process.connected) process.send?.(message);
    },
    close: () => {
      process.disconnect?.();
      process.exit(0);
    },
  };
}

const channel = parentPort ? electronChannel(parentPort) : childChannel();
// This process runs job after job: a conversion's models stay loaded a while for the next export.
keepModelPools(KEPT_MODELS_IDLE_MS);
const engine = serveChannel(parentPort ? 'electron-utility' : 'node-child', channel);

// The parent went away (CLI killed, app crashed): stop jobs at a safe point and leave.
process.on('disconnect', () => {
  void engine.shutdown(true).finally(() => process.exit(0));
});
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    void engine.shutdown(true).finally(() => process.exit(0));
  });
}
process.on('uncaughtException', (error) => {
  engine.emit({
    type: 'log',
    level: 'error',
    message: `engine error: ${error.stack ?? error.message}`,
    jobId: null,
    time: new Date().toISOString(),
  });
});
process.on('unhandledRejection', (error) => {
  engine.emit({
    type: 'log',
    level: 'error',
    message: `engine error: ${String(error)}`,
    jobId: null,
    time: new Date().toISOString(),
  });
});
