import { promises as fs, readFileSync } from 'node:fs';
import ort from 'onnxruntime-node';
import { ErrorCode, StudioError } from '../../../src-shared/contract/errors.js';
import { decodeModelFile, type CheckpointHeader } from '../io/model-file.js';
import { ONE_THREAD_CPU } from '../onnx/session-options.js';
import { ARCH_REVISION, type ArchConfig } from './config.js';
import { generatorModel } from './generator-onnx.js';
import type { DecoderSide } from './networks.js';

/** What the swap needs of a generator (tests stand in for it). */
export interface FaceGenerator {
  readonly arch: Pick<ArchConfig, 'resolution'>;
  /** Faces (R x R RGB, 0..1, packed) through the decoder of `side`: attention mask and colour, 0..1. */
  run(side: DecoderSide, faces: Float32Array, count: number): Promise<{ alpha: Float32Array; color: Float32Array }>;
  /** The decoder that swaps a video of the direction's source person (see Generator.decoderFor). */
  decoderFor(direction: 'AtoB' | 'BtoA'): DecoderSide;
}

/**
 * The trained generator (shared encoder, decoders A and B) loaded from an export, for conversion: each decoder's
 * path is rebuilt as an ONNX graph (generator-onnx.ts) and runs on onnxruntime's CPU kernels, a batch of faces a
 * call; the tfjs graph stays training's.
 */
export class Generator implements FaceGenerator {
  private readonly sessions = new Map<DecoderSide, Promise<ort.InferenceSession>>();
  /** Decoders' graphs built here and kept to be shared (see built()). */
  private readonly graphs = new Map<DecoderSide, Uint8Array>();

  private constructor(
    readonly arch: ArchConfig,
    readonly meta: Record<string, unknown>,
    private readonly file: string,
    private readonly weight: (name: string, shape: readonly number[]) => Float32Array,
  ) {}

  /**
   * A generator from a decoder's graph another thread built (built()): building a graph costs more than creating
   * its session, so the conversion builds it once and its other workers start from the bytes. Another decoder, if
   * ever asked for, is built from the file.
   */
  static async fromBuilt(shared: BuiltGenerator): Promise<Generator> {
    let weights: ((name: string, shape: readonly number[]) => Float32Array) | null = null;
    const weight = (name: string, shape: readonly number[]): Float32Array => {
      weights ??= weightsOf(shared.file, readFileSync(shared.file)).weight;
      return weights(name, shape);
    };
    const generator = new Generator(shared.arch, shared.meta, shared.file, weight);
    // onnxruntime takes bytes from an ArrayBuffer only: a SharedArrayBuffer's would be copied out.
    const graph = shared.graph.buffer instanceof SharedArrayBuffer ? new Uint8Array(shared.graph) : shared.graph;
    generator.sessions.set(shared.side, createSession(graph));
    await generator.sessions.get(shared.side);
    return generator;
  }

  /** The graph of a decoder this generator built, for fromBuilt() in another thread (null: not built here). */
  built(side: DecoderSide): BuiltGenerator | null {
    const graph = this.graphs.get(side);
    return graph ? { arch: this.arch, meta: this.meta, file: this.file, side, graph } : null;
  }

  /**
   * Load an export. `direction`: the conversion's, so that only the decoder it draws with is built now (each
   * decoder's session costs about half a second and its own copy of the encoder); without one, decoder A's.
   */
  static async load(file: string, direction: 'AtoB' | 'BtoA' | null = null): Promise<Generator> {
    let bytes: Buffer;
    try {
      bytes = await fs.readFile(file);
    } catch {
      throw new StudioError(ErrorCode.notFound, `no trained model at ${file}`, {
        file,
        fix: 'train the project first ("faceparts train <project>")',
      });
    }
    const { header, weight } = weightsOf(file, bytes);
    const generator = new Generator(header.arch, header.meta, file, weight);
    // Fail now, not at the first face, when a weight is missing.
    await generator.session(direction ? generator.decoderFor(direction) : 'A');
    return generator;
  }

  private session(side: DecoderSide): Promise<ort.InferenceSession> {
    let session = this.sessions.get(side);
    if (!session) {
      const graph = generatorModel(this.arch, side, this.weight);
      this.graphs.set(side, graph);
      session = createSession(graph);
      this.sessions.set(side, session);
    }
    return session;
  }

  /** Drop the built graphs kept for sharing (the sessions have their own copies). */
  forgetGraphs(): void {
    this.graphs.clear();
  }

  /**
   * The decoder that swaps a video of the direction's source person: the other side's (A -> B draws with decoder
   * B), or, for a model trained with Method #1 (the target's part pasted into the source's training faces), the
   * source's own decoder, which learnt the source face with the target's part.
   */
  decoderFor(direction: 'AtoB' | 'BtoA'): DecoderSide {
    const own = (this.meta.settings as { partsMethod?: string } | undefined)?.partsMethod === 'augmented';
    if (direction === 'AtoB') return own ? 'A' : 'B';
    return own ? 'B' : 'A';
  }

  /** Faces (R x R RGB, 0..1, packed) through the decoder of `side`: attention mask and colour, 0..1. */
  async run(
    side: DecoderSide,
    faces: Float32Array,
    count: number,
  ): Promise<{ alpha: Float32Array; color: Float32Array }> {
    const r = this.arch.resolution;
    if (faces.length !== count * r * r * 3)
      throw new StudioError(ErrorCode.internal, `${count} faces of ${r} px need ${count * r * r * 3} values`, {
        file: this.file,
      });
    const out = await (await this.session(side)).run({ faces: new ort.Tensor('float32', faces, [count, r, r, 3]) });
    return { alpha: out.alpha?.data as Float32Array, color: out.color?.data as Float32Array };
  }

  dispose(): void {
    for (const session of this.sessions.values()) void session.then((s) => s.release()).catch(() => undefined);
    this.sessions.clear();
    this.graphs.clear();
  }
}

/** A decoder's graph as one thread built it, to start a generator in another (Generator.fromBuilt). */
export interface BuiltGenerator {
  arch: ArchConfig;
  meta: Record<string, unknown>;
  file: string;
  side: DecoderSide;
  /** The ONNX model's bytes (moved between threads, not copied: pipeline/workers.ts startGenerator). */
  graph: Uint8Array;
}

function createSession(graph: Uint8Array): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(graph, ONE_THREAD_CPU);
}

/** A model file's header and its weights by layer name, each checked against the shape the layer expects. */
function weightsOf(
  file: string,
  bytes: Buffer,
): { header: CheckpointHeader; weight: (name: string, shape: readonly number[]) => Float32Array } {
  const { header, tensor } = decodeModelFile(file, bytes);
  const arch = header.arch;
  if (arch.revision !== ARCH_REVISION)
    throw new StudioError(
      ErrorCode.projectInvalid,
      `the model ${file} was trained with an earlier network design (revision ${arch.revision ?? 1}; this version uses ${ARCH_REVISION})`,
      { file, fix: 'train the project again: a new run starts, and the earlier run stays in the history' },
    );
  const shapes = new Map(header.tensors.map((t) => [t.name, t.shape]));
  const weight = (name: string, shape: readonly number[]): Float32Array => {
    const values = tensor(`var:${name}`);
    const stored = shapes.get(`var:${name}`);
    if (!values || !stored || stored.join() !== shape.join())
      throw new StudioError(ErrorCode.projectInvalid, `the model ${file} lacks ${name}`, {
        file,
        fix: 'train again to re-export the model',
      });
    return values;
  };
  return { header, weight };
}
