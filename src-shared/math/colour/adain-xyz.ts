import { adainTransfer } from './adain.js';
import { RGB_TO_XYZ, XYZ_TO_RGB, clamp01, mat3, type ColourMode } from './mode.js';

export const adainXyz: ColourMode = {
  name: 'ADAIN_XYZ',
  label: 'AdaIN in XYZ',
  help: 'the same mean and spread matching in CIE XYZ',
  correct(generated, source, weight) {
    const matched = adainTransfer(mat3(generated, RGB_TO_XYZ), mat3(source, RGB_TO_XYZ), weight);
    return matched ? Float32Array.from(mat3(matched, XYZ_TO_RGB), clamp01) : null;
  },
};
