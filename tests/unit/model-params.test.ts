import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src-main/engine/backend/select.js';
import { archFromSettings } from '../../src-main/engine/model/config.js';
import { buildNetworks } from '../../src-main/engine/model/networks.js';
import { Weights } from '../../src-main/engine/model/weights.js';

/**
 * upstream faceswap-GAN v2.2's parameter counts (Keras' count of every layer of build_encoder, build_decoder and
 * build_discriminator with self-attention), from scripts/upstream-param-counts.py. 'instancenorm' is upstream's
 * default (keras-contrib InstanceNormalization: scalar gamma and beta); 'layernorm' is upstream's per-channel
 * GroupNormalization, whose 64 px totals equal the PyTorch peer's (../shared/bench/peer_gan_step.py prints
 * 11,232,289 lite and 66,191,289 standard).
 */
const UPSTREAM: Record<string, { encoder: number; decoder: number; discriminator: number }> = {
  'instancenorm/lite/64': { encoder: 10065994, decoder: 415460, discriminator: 747845 },
  'instancenorm/lite/128': { encoder: 19045452, decoder: 436329, discriminator: 1878664 },
  'instancenorm/lite/256': { encoder: 19635278, decoder: 457198, discriminator: 3009483 },
  'instancenorm/standard/64': { encoder: 59130506, decoder: 6300924, discriminator: 747845 },
  'instancenorm/standard/128': { encoder: 68567692, decoder: 6490305, discriminator: 1878664 },
  'instancenorm/standard/256': { encoder: 78004878, decoder: 6679686, discriminator: 3009483 },
  'layernorm/lite/64': { encoder: 10067778, decoder: 415902, discriminator: 748609 },
  'layernorm/standard/64': { encoder: 59138178, decoder: 6304502, discriminator: 748609 },
  'none/standard/128': { encoder: 68567682, decoder: 6490297, discriminator: 1878658 },
};

describe('networks match upstream layer for layer', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  for (const [key, expected] of Object.entries(UPSTREAM)) {
    it(`${key}: encoder, decoder and discriminator parameter counts`, () => {
      const [norm, capacity, res] = key.split('/') as ['instancenorm', 'lite' | 'standard', string];
      const arch = archFromSettings({ resolution: Number(res) as 64, capacity, useSelfAttention: true, norm });
      const weights = new Weights(null);
      try {
        buildNetworks(weights, arch, { discriminators: true });
        expect({
          encoder: weights.count('enc/'),
          decoder: weights.count('decA/'),
          discriminator: weights.count('disA/'),
        }).toEqual(expected);
        expect(weights.count('decB/')).toBe(expected.decoder);
      } finally {
        weights.dispose();
      }
      expect(tf.memory().numTensors).toBeLessThan(10);
    });
  }
});
