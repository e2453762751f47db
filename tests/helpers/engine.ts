import { EngineProcess } from '../../src-main/host-node/engine-process.js';

/** An engine child process for a test, with its own studio home. */
export function startEngine(home: string): EngineProcess {
  return new EngineProcess({ env: { FACEPARTS_HOME: home } });
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
