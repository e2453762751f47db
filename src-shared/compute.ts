import { COMPUTE_NAMES, type BackendName, type BackendReport } from './contract/index.js';

export { COMPUTE_NAMES };

export function computeName(name: BackendName): string {
  return COMPUTE_NAMES[name];
}

/** Whether a backend runs on a GPU. */
export function isGpu(name: BackendName): boolean {
  return name === 'tfjs-node-gpu' || name === 'webgpu';
}

/**
 * One line: which compute was chosen and why, e.g. "compute: CPU (wasm), the fastest that works here; not usable:
 * GPU (CUDA) not installed (...); GPU (WebGPU) not found: no Vulkan driver (...)". Attempts that were not tried (a
 * faster one already worked, or one was forced) are not reasons and are left out.
 */
export function computeLine(report: BackendReport): string {
  const failed = report.attempts.filter((a) => !a.ok && !/^not tried/.test(a.reason));
  const unusable = failed.map((a) => `${computeName(a.name)} ${a.reason}`).join('; ');
  if (!report.selected) return `compute: none could start; ${unusable}`;
  const chosen = computeName(report.selected);
  if (report.forcedBy) {
    const by = report.forcedBy === 'env' ? 'FACEPARTS_BACKEND' : "the project's backend setting";
    return `compute: ${chosen}, because ${by} asks for ${report.selected}`;
  }
  if (failed.length === 0) return `compute: ${chosen}, the fastest there is`;
  return `compute: ${chosen}, the fastest that works here; not usable: ${unusable}`;
}
