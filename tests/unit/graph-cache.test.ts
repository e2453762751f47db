import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cachedSession, graphCacheDir, type GraphSource } from '../../src-main/engine/onnx/graph-cache.js';
import { OnnxGraph } from '../../src-main/engine/onnx/graph.js';

const SESSION: ort.InferenceSession.SessionOptions = { logSeverityLevel: 3, executionProviders: ['cpu'] };

/** A net that adds `bias` (read from the weight file, as the bundled nets read theirs) to its input. */
function buildFrom(weightFile: string, builds: { count: number }): () => Promise<Uint8Array> {
  return async () => {
    builds.count += 1;
    const { readFileSync } = await import('node:fs');
    const bias = Number(readFileSync(weightFile, 'utf8'));
    const g = new OnnxGraph();
    const x = g.input('x', [2]);
    g.name(g.node('Add', [x, g.constant([2], [bias, bias])]), 'y');
    g.output('y', [2]);
    return g.encode();
  };
}

async function run(session: ort.InferenceSession): Promise<number[]> {
  const out = await session.run({ x: new ort.Tensor('float32', Float32Array.from([1, 2]), [2]) });
  return Array.from(out.y?.data as Float32Array);
}

describe('graph cache', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'fp-graph-cache-'));
  const weights = path.join(root, 'weights.txt');
  const builder = path.join(root, 'builder.js');
  const source: GraphSource = { name: 'adder', files: [weights], builders: [new URL(`file://${builder}`)] };
  let saved: string | undefined;

  beforeEach(() => {
    saved = process.env.FACEPARTS_CACHE;
    process.env.FACEPARTS_CACHE = path.join(root, 'cache');
    rmSync(path.join(root, 'cache'), { recursive: true, force: true });
    writeFileSync(weights, '10');
    writeFileSync(builder, '// builder v1');
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.FACEPARTS_CACHE;
    else process.env.FACEPARTS_CACHE = saved;
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const entries = (): string[] => readdirSync(graphCacheDir() as string).filter((f) => f.endsWith('.onnx'));
  /** The adder's session through the cache, counting the builds it takes, and its output for [1, 2]. */
  const open = (builds: { count: number }): Promise<ort.InferenceSession> =>
    cachedSession(source, buildFrom(weights, builds), SESSION);
  const outputs = async (builds: { count: number }): Promise<number[]> => run(await open(builds));

  it('builds a graph once and later sessions read the kept bytes', async () => {
    const builds = { count: 0 };
    expect(await outputs(builds)).toEqual([11, 12]);
    expect(await outputs(builds)).toEqual([11, 12]);
    expect(builds.count).toBe(1);
    expect(entries()).toHaveLength(1);
  });

  it('builds again when a weight file or the builder changes, and drops the old entry', async () => {
    const builds = { count: 0 };
    await open(builds);
    writeFileSync(weights, '20');
    expect(await outputs(builds)).toEqual([21, 22]);
    writeFileSync(builder, '// builder v2');
    expect(await outputs(builds)).toEqual([21, 22]);
    expect(builds.count).toBe(3);
    expect(entries()).toHaveLength(1);
  });

  it('builds again over an entry onnxruntime cannot read', async () => {
    const builds = { count: 0 };
    await open(builds);
    const [entry] = entries();
    writeFileSync(path.join(graphCacheDir() as string, entry as string), 'not a graph');
    expect(await outputs(builds)).toEqual([11, 12]);
    expect(builds.count).toBe(2);
  });

  it('keeps nothing when turned off', async () => {
    process.env.FACEPARTS_CACHE = 'off';
    const builds = { count: 0 };
    await open(builds);
    await open(builds);
    expect(builds.count).toBe(2);
    expect(graphCacheDir()).toBeNull();
  });
});
