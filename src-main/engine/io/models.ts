import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCode, StudioError } from '../../../src-shared/contract/errors.js';

/**
 * A bundled model file: FACEPARTS_MODELS, then process.resourcesPath/models in the packaged app, then
 * resources/models in a checkout (from the sources or from dist/).
 */
export function modelPath(relative: string): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const resourcesPath = (process as { resourcesPath?: string }).resourcesPath;
  const candidates = [
    ...(process.env.FACEPARTS_MODELS ? [path.join(process.env.FACEPARTS_MODELS, relative)] : []),
    ...(resourcesPath ? [path.join(resourcesPath, 'models', relative)] : []),
    path.resolve(here, '../../../resources/models', relative),
    path.resolve(here, '../../../../resources/models', relative),
  ];
  const found = candidates.find((p) => existsSync(p));
  if (!found) {
    throw new StudioError(ErrorCode.notFound, `model ${relative} is missing (looked in ${candidates.join(', ')})`, {
      fix: 'reinstall FaceParts Studio, or set FACEPARTS_MODELS to the models folder',
    });
  }
  return found;
}
