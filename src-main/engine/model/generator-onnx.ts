/**
 * The conversion's generator (shared encoder, one decoder) as an ONNX graph, built layer by layer as networks.ts and
 * layers.ts build it for tfjs, from the same named weights, so that conversion runs on onnxruntime's native kernels.
 * tests/unit/generator-onnx.test.ts checks both give the same faces for every norm and capacity.
 *
 * Two choices differ from training's tfjs graph without changing a result:
 * - batchnorm takes each face's own statistics (what the tfjs generator does with its one face a batch), so faces
 *   may be batched;
 * - self-attention runs as onnxruntime's fused MultiHeadAttention (contrib op, one head, scale 1): the same
 *   softmax(g f^T) h without the N x N map in memory (the full 64 px map is 64 MB a face); about a fifth faster.
 * Pure: weights in, model bytes out.
 */
import { OnnxGraph } from '../onnx/graph.js';
import { NchwNet, type Map4 } from '../onnx/nchw.js';
import { channels, type ArchConfig, type NormKind } from './config.js';

/** A weight by name, checked against the shape the layer expects. */
export type WeightSource = (name: string, shape: readonly number[]) => Float32Array;

class GeneratorBuilder {
  readonly net: NchwNet;

  constructor(
    readonly arch: ArchConfig,
    private readonly weight: WeightSource,
  ) {
    this.net = new NchwNet(new OnnxGraph());
  }

  private kernel(name: string, k: number, inC: number, outC: number): Float32Array {
    return this.weight(`${name}/kernel`, [k, k, inC, outC]);
  }

  conv(
    name: string,
    x: Map4,
    filters: number,
    k: number,
    stride = 1,
    bias = false,
    pad: 'same' | 'valid' = 'same',
  ): Map4 {
    return this.net.conv(x, this.kernel(name, k, x.c, filters), [k, k, x.c, filters], {
      stride,
      pad,
      bias: bias ? this.weight(`${name}/bias`, [filters]) : null,
    });
  }

  private affine(name: string, y: string, size: number, c: number): string {
    const g = this.net.g;
    const gamma = this.weight(`${name}/gamma`, [size]);
    const beta = this.weight(`${name}/beta`, [size]);
    const [gs, bs] =
      size === 1
        ? [this.net.scalar(gamma[0] as number), this.net.scalar(beta[0] as number)]
        : [this.net.perChannel(gamma), this.net.perChannel(beta)];
    if (size !== 1 && size !== c) throw new Error(`norm ${name}: ${size} parameters for ${c} channels`);
    return g.node('Add', [g.node('Mul', [y, gs]), bs]);
  }

  /** layers.ts norm(): the same kinds, moments per sample (see the file comment for batchnorm). */
  norm(name: string, x: Map4, kind: NormKind, group: number): Map4 {
    const net = this.net;
    const c = x.c;
    const groupNorm = (groups: number): Map4 => {
      const gr = Math.max(1, Math.min(groups, c));
      const grouped = net.reshape(x.name, [0, gr, c / gr, x.h, x.w]);
      const standard = net.reshape(net.standardise(grouped, [2, 3, 4], 1e-6, false), [0, c, x.h, x.w]);
      return { ...x, name: this.affine(name, standard, c, c) };
    };
    switch (kind) {
      case 'none':
        return x;
      case 'instancenorm':
        return { ...x, name: this.affine(name, net.standardise(x.name, [1, 2, 3], 1e-3, true), 1, c) };
      case 'layernorm':
        return groupNorm(group);
      case 'groupnorm':
        return groupNorm(16);
      case 'batchnorm':
        return { ...x, name: this.affine(name, net.standardise(x.name, [2, 3], 1e-3, false), c, c) };
      case 'hybrid': {
        const half = Math.max(1, Math.floor(group / 2));
        const [a, b] = net.split(x.name, 1, [half, c - half]) as [string, string];
        const left = this.conv(`${name}/conv`, { ...x, name: a, c: half }, half, 1, 1, true);
        const right = this.affine(`${name}/in`, net.standardise(b, [1, 2, 3], 1e-3, true), 1, c - half);
        return { ...x, name: net.concat([left.name, right], 1) };
      }
    }
  }

  convBlock(name: string, x: Map4, f: number, kind: NormKind, stride = 2): Map4 {
    return this.norm(`${name}/norm`, this.net.relu(this.conv(name, x, f, 3, stride)), kind, f);
  }

  resBlock(name: string, x: Map4, f: number): Map4 {
    const a = this.net.leaky(this.conv(`${name}/a`, x, f, 3), 0.2);
    return this.net.leaky(this.net.add(x, this.conv(`${name}/b`, a, f, 3)), 0.2);
  }

  pixelShuffle(x: Map4): Map4 {
    const oc = x.c / 4;
    const net = this.net;
    const split = net.reshape(x.name, [0, 2, 2, oc, x.h, x.w]);
    const moved = net.transpose(split, [0, 3, 4, 1, 5, 2]);
    return { name: net.reshape(moved, [0, oc, x.h * 2, x.w * 2]), c: oc, h: x.h * 2, w: x.w * 2 };
  }

  upscale(name: string, x: Map4, f: number, lite: boolean, kind: NormKind): Map4 {
    const net = this.net;
    if (!lite) {
      const y = net.leaky(this.conv(name, x, f * 4, 3, 1, true), 0.2);
      return this.pixelShuffle(this.norm(`${name}/norm`, y, kind, f));
    }
    // Nearest x2: each pixel repeated into a 2 x 2 block, then a reflect pad of one pixel.
    const g = net.g;
    const up = g.node('Resize', [x.name, '', g.constant([4], [1, 1, 2, 2], 'scales')], {
      mode: 'nearest',
      coordinate_transformation_mode: 'asymmetric',
      nearest_mode: 'floor',
    });
    const padded = g.node('Pad', [up, g.ints([0, 0, 1, 1, 0, 0, 1, 1], 'pads')], { mode: 'reflect' });
    const y = this.conv(name, { name: padded, c: x.c, h: x.h * 2 + 2, w: x.w * 2 + 2 }, f, 3, 1, true, 'valid');
    return this.norm(`${name}/norm`, y, kind, f);
  }

  selfAttention(name: string, x: Map4): Map4 {
    const net = this.net;
    const g = net.g;
    const c8 = Math.max(1, Math.floor(x.c / 8));
    const n = x.h * x.w;
    const rows = (conv: Map4, c: number): string => net.transpose(net.reshape(conv.name, [0, c, n]), [0, 2, 1]);
    const k = rows(this.conv(`${name}/f`, x, c8, 1, 1, true), c8);
    const q = rows(this.conv(`${name}/g`, x, c8, 1, 1, true), c8);
    const v = rows(this.conv(`${name}/h`, x, x.c, 1, 1, true), x.c);
    // softmax(q k^T) v, unscaled as upstream's, by onnxruntime's fused attention (one head).
    const attended = g.op('MultiHeadAttention', [q, k, v], { num_heads: 1, scale: 1 }, 1, ['scale'], 'com.microsoft');
    const o = net.reshape(net.transpose(attended[0] as string, [0, 2, 1]), [0, x.c, x.h, x.w]);
    const gamma = this.weight(`${name}/gamma`, [1]);
    return net.add(x, net.mul({ ...x, name: o }, net.scalar(gamma[0] as number)));
  }

  dense(name: string, x: string, inUnits: number, units: number): string {
    return this.net.dense(
      x,
      this.weight(`${name}/kernel`, [inUnits, units]),
      inUnits,
      units,
      this.weight(`${name}/bias`, [units]),
    );
  }
}

/**
 * The model for decoder `side`: input `faces` [N, R, R, 3] RGB 0..1 (NHWC, as the swap warps them), outputs `alpha`
 * [N, R, R, 1] and `color` [N, R, R, 3], both 0..1 (Generator.run's contract).
 */
export function generatorModel(arch: ArchConfig, side: 'A' | 'B', weight: WeightSource): Uint8Array {
  const b = new GeneratorBuilder(arch, weight);
  const { net } = b;
  const g = net.g;
  const r = arch.resolution;
  const ch = channels(arch);
  const lite = arch.capacity === 'lite';
  const input = g.input('faces', ['N', r, r, 3]);
  const scaled = g.node('Sub', [g.node('Mul', [input, net.scalar(2)]), net.scalar(1)]);
  let y: Map4 = { name: net.transpose(scaled, [0, 3, 1, 2]), c: 3, h: r, w: r };
  // Encoder (networks.ts encoder()).
  y = b.conv('enc/conv0', y, ch.enc[0], 5);
  y = b.convBlock('enc/cb1', y, ch.enc[1], 'none');
  y = b.convBlock('enc/cb2', y, ch.enc[2], arch.norm);
  if (arch.useSelfAttention) y = b.selfAttention('enc/sa2', y);
  y = b.convBlock('enc/cb3', y, ch.enc[3], arch.norm);
  if (arch.useSelfAttention) y = b.selfAttention('enc/sa3', y);
  y = b.convBlock('enc/cb4', y, ch.enc[4], arch.norm);
  for (let size = r, i = 0; size > 64; size /= 2, i += 1) y = b.convBlock(`enc/extra${i}`, y, ch.enc[4], arch.norm);
  const flat = y.c * y.h * y.w;
  let z = b.dense('enc/dense1', net.flattenNhwc(y), flat, arch.latent);
  z = b.dense('enc/dense2', z, arch.latent, 4 * 4 * ch.enc[4]);
  y = { name: net.transpose(net.reshape(z, [0, 4, 4, ch.enc[4]]), [0, 3, 1, 2]), c: ch.enc[4], h: 4, w: 4 };
  y = b.upscale('enc/up', y, ch.up, lite, arch.norm);
  // Decoder (networks.ts decoder(), without the training-only intermediate outputs).
  const p = `dec${side}`;
  y = b.upscale(`${p}/up1`, y, ch.dec[0], lite, arch.norm);
  y = b.upscale(`${p}/up2`, y, ch.dec[1], lite, arch.norm);
  if (arch.useSelfAttention) y = b.selfAttention(`${p}/sa2`, y);
  y = b.upscale(`${p}/up3`, y, ch.dec[2], lite, arch.norm);
  y = b.resBlock(`${p}/res`, y, ch.dec[2]);
  y = arch.useSelfAttention ? b.selfAttention(`${p}/sa3`, y) : b.convBlock(`${p}/cb`, y, ch.dec[2], 'none', 1);
  for (let size = 64, i = 0; size < r; size *= 2, i += 1) {
    y = b.upscale(`${p}/upx${i}`, y, ch.dec[2], lite, arch.norm);
    y = b.convBlock(`${p}/cbx${i}`, y, ch.dec[2], 'none', 1);
  }
  const alpha = net.transpose(g.node('Sigmoid', [b.conv(`${p}/alpha`, y, 1, 5, 1, true).name]), [0, 2, 3, 1]);
  const tanh = g.node('Tanh', [b.conv(`${p}/bgr`, y, 3, 5, 1, true).name]);
  const color = net.transpose(g.node('Div', [g.node('Add', [tanh, net.scalar(1)]), net.scalar(2)]), [0, 2, 3, 1]);
  g.name(alpha, 'alpha');
  g.name(color, 'color');
  g.output('alpha', ['N', r, r, 1]);
  g.output('color', ['N', r, r, 3]);
  return g.encode();
}
