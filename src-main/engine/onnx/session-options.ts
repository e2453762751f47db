import type ort from 'onnxruntime-node';

/**
 * The session options of the studio's own nets (generator, face-api's nets, FaceRes): one thread each, since the
 * pipeline runs one model worker a core and spreads the work over them (pipeline/workers.ts).
 */
export const ONE_THREAD_CPU: ort.InferenceSession.SessionOptions = {
  logSeverityLevel: 3,
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionProviders: ['cpu'],
};
