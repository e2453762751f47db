/**
 * Face detectors by name, as faceswap's plugins/extract/detect and plugin_loader: a new detector is one file that
 * implements Detector (types.ts) plus one line here.
 */
import { ErrorCode, StudioError } from '../../../src-shared/contract/errors.js';
import { loadBlazeFace } from './blazeface.js';
import type { Detector } from './types.js';

export type DetectorLoader = () => Promise<Detector>;

export const DEFAULT_DETECTOR = 'blazeface';

const detectors = new Map<string, DetectorLoader>([['blazeface', loadBlazeFace]]);

/** Add (or replace) a detector under a name, e.g. from a test or an optional package. */
export function registerDetector(name: string, loader: DetectorLoader): void {
  detectors.set(name, loader);
}

export function detectorNames(): string[] {
  return [...detectors.keys()];
}

export async function loadDetector(name = DEFAULT_DETECTOR): Promise<Detector> {
  const loader = detectors.get(name);
  if (!loader)
    throw new StudioError(ErrorCode.invalidParams, `there is no face detector called "${name}"`, {
      field: 'detector',
      fix: `use one of: ${detectorNames().join(', ')}`,
    });
  return loader();
}
