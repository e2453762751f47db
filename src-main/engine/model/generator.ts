import { promises as fs } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { ErrorCode, StudioError } from '../../../src-shared/contract/index.js';
import { decodeModelFile } from '../io/model-file.js';
import { ARCH_REVISION, type ArchConfig } from './config.js';
import { buildNetworks, decoder, encoder, type Side } from './networks.js';
import { Weights } from './weights.js';

/** The trained generator (shared encoder, decoders A and B) loaded from an export, for conversion. */
export class Generator {
  private constructor(
    readonly arch: ArchConfig,
    private readonly weights: Weights,
    readonly meta: Record<string, unknown>,
  ) {}

  static async load(file: string): Promise<Generator> {
    let bytes: Buffer;
    try {
      bytes = await fs.readFile(file);
    } catch {
      throw new StudioError(ErrorCode.notFound, `no trained model at ${file}`, {
        file,
        fix: 'train the project first ("faceparts train <project>")',
      });
    }
    const { header, tensor } = decodeModelFile(file, bytes);
    const arch = header.arch;
    if (arch.revision !== ARCH_REVISION)
      throw new StudioError(
        ErrorCode.projectInvalid,
        `the model ${file} was trained with an earlier network design (revision ${arch.revision ?? 1}; this version uses ${ARCH_REVISION})`,
        { file, fix: 'train the project again: a new run starts, and the earlier run stays in the history' },
      );
    const weights = new Weights(null);
    buildNetworks(weights, arch, { discriminators: false });
    for (const [name, variable] of weights.vars) {
      const values = tensor(`var:${name}`);
      if (!values || values.length !== variable.size) {
        weights.dispose();
        throw new StudioError(ErrorCode.projectInvalid, `the model ${file} lacks ${name}`, {
          file,
          fix: 'train again to re-export the model',
        });
      }
      const t = tf.tensor(values, variable.shape);
      variable.assign(t);
      t.dispose();
    }
    return new Generator(arch, weights, header.meta);
  }

  /**
   * The decoder that swaps a video of the direction's source person: the other side's (A -> B draws with decoder
   * B), or, for a model trained with Method #1 (the target's part pasted into the source's training faces), the
   * source's own decoder, which learnt the source face with the target's part.
   */
  decoderFor(direction: 'AtoB' | 'BtoA'): Side {
    const own = (this.meta.settings as { partsMethod?: string } | undefined)?.partsMethod === 'augmented';
    if (direction === 'AtoB') return own ? 'A' : 'B';
    return own ? 'B' : 'A';
  }

  /** Faces (R x R RGB, 0..1, packed) through the decoder of `side`: attention mask and colour, 0..1. */
  async run(side: Side, faces: Float32Array, count: number): Promise<{ alpha: Float32Array; color: Float32Array }> {
    const r = this.arch.resolution;
    const [alpha, color] = tf.tidy(() => {
      const input = tf.sub(tf.mul(tf.tensor4d(faces, [count, r, r, 3]), 2), 1) as tf.Tensor4D;
      const out = decoder(this.weights, this.arch, side, encoder(this.weights, this.arch, input));
      return [out.alpha, tf.div(tf.add(out.color, 1), 2)];
    });
    const result = { alpha: (await alpha.data()) as Float32Array, color: (await color.data()) as Float32Array };
    tf.dispose([alpha, color]);
    return result;
  }

  dispose(): void {
    this.weights.dispose();
  }
}
