/**
 * The bundled nets' ONNX graphs, built once and kept on disk. Every job builds its nets in every model worker
 * (face-api's landmark and recognition nets, FaceRes): decoding their tfjs weights and writing the graph costs a
 * cold worker up to ~0.3 s of CPU a net, at the start of the job, when both cores are busy. The cached graph is the
 * same bytes, read in milliseconds.
 *
 * A graph is keyed by a hash of everything its bytes come from: the weight files and the text of the modules that
 * build it, so a changed builder or a changed weight file never meets an old graph. An entry that cannot be read is
 * built again; one that cannot be written (a read-only disk) is simply not kept.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import { writeFileAtomic } from '../io/atomic.js';

/**
 * Where cached graphs live: FACEPARTS_CACHE, else under FACEPARTS_HOME (tests, portable installs), else the
 * platform's cache folder. FACEPARTS_CACHE=off keeps nothing.
 */
export function graphCacheDir(): string | null {
  const env = process.env.FACEPARTS_CACHE;
  if (env === 'off') return null;
  if (env) return path.resolve(env, 'graphs');
  if (process.env.FACEPARTS_HOME) return path.resolve(process.env.FACEPARTS_HOME, 'cache', 'graphs');
  const home = process.env.HOME ?? os.homedir();
  const base =
    process.platform === 'win32'
      ? path.join(process.env.LOCALAPPDATA ?? path.join(home, 'AppData', 'Local'), 'faceparts-studio', 'Cache')
      : process.platform === 'darwin'
        ? path.join(home, 'Library', 'Caches', 'faceparts-studio')
        : path.join(process.env.XDG_CACHE_HOME ?? path.join(home, '.cache'), 'faceparts-studio');
  return path.join(base, 'graphs');
}

/** The modules every graph builder writes through (onnx/graph.ts and onnx/nchw.ts). */
const WRITER_MODULES = [new URL('./graph.js', import.meta.url), new URL('./nchw.js', import.meta.url)];

/** A module's text: its .js when compiled, its .ts when run from the sources. */
async function readModule(url: URL): Promise<Buffer> {
  const file = fileURLToPath(url);
  try {
    return await fs.readFile(file);
  } catch {
    return fs.readFile(file.replace(/\.js$/, '.ts'));
  }
}

/** A hash of the files a graph is built from (weights) and of the modules that build it. */
async function graphKey(name: string, files: readonly string[], builders: readonly URL[]): Promise<string> {
  const hash = createHash('sha256').update(name);
  for (const file of files) hash.update(path.basename(file)).update(await fs.readFile(file));
  for (const url of [...builders, ...WRITER_MODULES]) hash.update(await readModule(url));
  return hash.digest('hex').slice(0, 24);
}

/** A net's graph: its name, the weight files it is built from and the modules (import.meta.url) that build it. */
export interface GraphSource {
  name: string;
  files: readonly string[];
  builders: readonly URL[];
}

/**
 * The files of a tfjs model: its JSON (a weights manifest, or a model.json with one) and the weight shards it lists.
 */
export async function tfjsModelFiles(json: string): Promise<string[]> {
  const parsed = JSON.parse(await fs.readFile(json, 'utf8')) as
    Array<{ paths: string[] }> | { weightsManifest: Array<{ paths: string[] }> };
  const groups = Array.isArray(parsed) ? parsed : parsed.weightsManifest;
  return [json, ...groups.flatMap((g) => g.paths.map((p) => path.join(path.dirname(json), p)))];
}

/**
 * A session of the graph `source` describes: from the cache when an entry for exactly these inputs is there, else
 * built by `build` and kept. A cached entry onnxruntime refuses is removed and the graph built again.
 */
export async function cachedSession(
  source: GraphSource,
  build: () => Promise<Uint8Array>,
  options: ort.InferenceSession.SessionOptions,
): Promise<ort.InferenceSession> {
  const dir = graphCacheDir();
  if (!dir) return ort.InferenceSession.create(await build(), options);
  const key = await graphKey(source.name, source.files, source.builders);
  const file = path.join(dir, `${source.name}-${key}.onnx`);
  let cached: Uint8Array | null = null;
  try {
    // The file's Buffer as it is (a Uint8Array): a copy was 35 MB of fresh memory a worker for the identity nets.
    cached = await fs.readFile(file);
  } catch {
    // Not built yet (or unreadable): built below.
  }
  if (cached) {
    try {
      return await ort.InferenceSession.create(cached, options);
    } catch {
      await fs.rm(file, { force: true }).catch(() => undefined);
    }
  }
  const graph = await build();
  await keep(dir, source.name, file, graph);
  return ort.InferenceSession.create(graph, options);
}

/** Write a built graph into the cache and drop the net's entries of earlier weights or builders. */
async function keep(dir: string, name: string, file: string, graph: Uint8Array): Promise<void> {
  try {
    await fs.mkdir(dir, { recursive: true });
    await writeFileAtomic(file, graph);
    for (const entry of await fs.readdir(dir))
      if (entry.startsWith(`${name}-`) && entry.endsWith('.onnx') && entry !== path.basename(file))
        await fs.rm(path.join(dir, entry), { force: true });
  } catch {
    // A cache that cannot be written costs the next job a rebuild, nothing more.
  }
}
