/** Pure frame-selection rules: quality filters and a training cap that keeps pose variety. */

export interface QualityLimits {
  minFaceSide: number;
  blurThreshold: number;
  maxYaw: number;
  maxPitch: number;
}

export function qualityVerdict(
  face: { faceSide: number; sharpness: number; yaw: number; pitch: number },
  limits: QualityLimits,
): string | null {
  if (face.faceSide < limits.minFaceSide)
    return `face too small (${Math.round(face.faceSide)} px < ${Math.round(limits.minFaceSide)} px)`;
  if (Math.abs(face.yaw) > limits.maxYaw) return `extreme pose (yaw ${Math.round(face.yaw)} deg)`;
  if (Math.abs(face.pitch) > limits.maxPitch) return `extreme pose (pitch ${Math.round(face.pitch)} deg)`;
  if (face.sharpness < limits.blurThreshold)
    return `blurry (sharpness ${face.sharpness.toFixed(1)} < ${limits.blurThreshold})`;
  return null;
}

/**
 * Keep at most `cap` faces, spread over pose: faces are binned by yaw/pitch (15 degree bins) and taken
 * round-robin from the bins, sharpest first within a bin. Returns the ids to keep.
 */
/** The reason's category, without the measured values: how skipped faces are counted in reports. */
export function reasonCategory(reason: string): string {
  const cut = reason.indexOf(' (');
  return cut > 0 ? reason.slice(0, cut) : reason;
}

export function capWithPoseVariety(
  faces: ReadonlyArray<{ id: number; yaw: number; pitch: number; sharpness: number }>,
  cap: number,
): Set<number> {
  if (faces.length <= cap) return new Set(faces.map((f) => f.id));
  const bins = new Map<string, Array<{ id: number; sharpness: number }>>();
  for (const f of faces) {
    const key = `${Math.round(f.yaw / 15)}:${Math.round(f.pitch / 15)}`;
    bins.set(key, [...(bins.get(key) ?? []), f]);
  }
  const queues = [...bins.values()].map((b) => b.sort((x, y) => y.sharpness - x.sharpness));
  const keep = new Set<number>();
  for (let round = 0; keep.size < cap; round += 1) {
    let took = false;
    for (const q of queues) {
      const next = q[round];
      if (next && keep.size < cap) {
        keep.add(next.id);
        took = true;
      }
    }
    if (!took) break;
  }
  return keep;
}
