import { umeyama, type Affine, type Point } from './geometry.js';

/** 68-point landmark layout (iBUG 300-W): the parts the studio swaps. */
export const LANDMARK_PARTS = {
  jaw: range(0, 16),
  rightEyebrow: range(17, 21),
  leftEyebrow: range(22, 26),
  nose: range(27, 35),
  rightEye: range(36, 41),
  leftEye: range(42, 47),
  mouth: range(48, 67),
} as const;

/** Parts the user swaps, each one or more convex hulls of landmark groups. */
export const PART_HULLS: Record<'eyes' | 'eyebrows' | 'nose' | 'mouth' | 'face', number[][]> = {
  eyes: [LANDMARK_PARTS.rightEye, LANDMARK_PARTS.leftEye],
  eyebrows: [LANDMARK_PARTS.rightEyebrow, LANDMARK_PARTS.leftEyebrow],
  nose: [LANDMARK_PARTS.nose],
  mouth: [LANDMARK_PARTS.mouth],
  face: [[...LANDMARK_PARTS.jaw, ...LANDMARK_PARTS.rightEyebrow, ...LANDMARK_PARTS.leftEyebrow]],
};

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/**
 * Mean face of landmarks 17-67 in a unit square: the widely used alignment template of the deepfakes
 * lineage (data, not code). Aligning fits these 51 points; the jaw is left free because it moves with speech.
 */
const MEAN_FACE_X = [
  0.000213256, 0.0752622, 0.18113, 0.29077, 0.393397, 0.586856, 0.689483, 0.799124, 0.904991, 0.98004, 0.490127,
  0.490127, 0.490127, 0.490127, 0.36688, 0.426036, 0.490127, 0.554217, 0.613373, 0.121737, 0.187122, 0.265825, 0.334606,
  0.260918, 0.182743, 0.645647, 0.714428, 0.793132, 0.858516, 0.79751, 0.719335, 0.254149, 0.340985, 0.428858, 0.490127,
  0.551395, 0.639268, 0.726104, 0.642159, 0.556721, 0.490127, 0.423532, 0.338094, 0.290379, 0.428096, 0.490127,
  0.552157, 0.689874, 0.553364, 0.490127, 0.42689,
];
const MEAN_FACE_Y = [
  0.106454, 0.038915, 0.0187482, 0.0344891, 0.0773906, 0.0773906, 0.0344891, 0.0187482, 0.038915, 0.106454, 0.203352,
  0.307009, 0.409805, 0.515625, 0.587326, 0.609345, 0.628106, 0.609345, 0.587326, 0.216423, 0.178758, 0.179852,
  0.231733, 0.245099, 0.244077, 0.231733, 0.179852, 0.178758, 0.216423, 0.244077, 0.245099, 0.780233, 0.745405,
  0.727388, 0.742578, 0.727388, 0.745405, 0.780233, 0.864805, 0.902192, 0.909281, 0.902192, 0.864805, 0.784792,
  0.778746, 0.785343, 0.778746, 0.784792, 0.824182, 0.831803, 0.824182,
];
export const MEAN_FACE: readonly Point[] = MEAN_FACE_X.map((x, i) => [x, MEAN_FACE_Y[i] as number]);
export const TEMPLATE_FIRST_LANDMARK = 17;

/** Margin around the template in the aligned crop, as a share of the crop size (48 px at 256). */
export const ALIGN_PADDING = 0.1875;

/** The template's points in a crop of `size` pixels. */
export function templateInCrop(size: number, padding = ALIGN_PADDING): Point[] {
  const inner = size * (1 - 2 * padding);
  return MEAN_FACE.map(([x, y]) => [x * inner + size * padding, y * inner + size * padding]);
}

/** The similarity that maps a face's 68 landmarks (frame pixels) into an aligned crop of `size` pixels. */
export function alignmentTransform(landmarks: readonly Point[], size: number, padding = ALIGN_PADDING): Affine {
  if (landmarks.length !== 68) throw new Error(`expected 68 landmarks, got ${landmarks.length}`);
  return umeyama(landmarks.slice(TEMPLATE_FIRST_LANDMARK), templateInCrop(size, padding));
}

export function eyeCentres(landmarks: readonly Point[]): { right: Point; left: Point } {
  const centre = (idx: readonly number[]): Point => {
    let x = 0;
    let y = 0;
    for (const i of idx) {
      x += (landmarks[i] as Point)[0];
      y += (landmarks[i] as Point)[1];
    }
    return [x / idx.length, y / idx.length];
  };
  return { right: centre(LANDMARK_PARTS.rightEye), left: centre(LANDMARK_PARTS.leftEye) };
}

/**
 * Mean distance between corresponding points, in inter-ocular distances (eye centres) of `reference` (68 landmarks).
 * Not quality.ts landmarkError: that one is the usual NME over the outer eye corners (the conversion's landmark
 * agreement); the landmark fast path's bounds are in eye-centre distances.
 */
export function meanDistanceIod(points: readonly Point[], reference: readonly Point[]): number {
  const { right, left } = eyeCentres(reference);
  const interOcular = Math.max(1e-6, Math.hypot(left[0] - right[0], left[1] - right[1]));
  const sum = points.reduce((total, [x, y], i) => {
    const [rx, ry] = reference[i] as Point;
    return total + Math.hypot(x - rx, y - ry);
  }, 0);
  return sum / Math.max(1, points.length) / interOcular;
}

/**
 * Rough head pose from 2-D landmarks, in degrees: yaw from the nose tip's offset between the face
 * sides, pitch from the nose's position between eyes and mouth. Good enough to keep pose variety.
 */
export function estimatePose(landmarks: readonly Point[]): { yaw: number; pitch: number; roll: number } {
  const p = (i: number): Point => landmarks[i] as Point;
  const { right, left } = eyeCentres(landmarks);
  const roll = (Math.atan2(left[1] - right[1], left[0] - right[0]) * 180) / Math.PI;
  const noseTip = p(30);
  const leftDist = Math.hypot(noseTip[0] - p(16)[0], noseTip[1] - p(16)[1]);
  const rightDist = Math.hypot(noseTip[0] - p(0)[0], noseTip[1] - p(0)[1]);
  const yaw = ((rightDist - leftDist) / Math.max(1e-6, rightDist + leftDist)) * 90;
  const eyeMid: Point = [(right[0] + left[0]) / 2, (right[1] + left[1]) / 2];
  const mouthMid: Point = [(p(48)[0] + p(54)[0]) / 2, (p(48)[1] + p(54)[1]) / 2];
  const total = Math.hypot(mouthMid[0] - eyeMid[0], mouthMid[1] - eyeMid[1]);
  const upper = Math.hypot(noseTip[0] - eyeMid[0], noseTip[1] - eyeMid[1]);
  // About 0.6 of the eye-mouth distance on a level face.
  const pitch = total > 0 ? (upper / total - 0.6) * 150 : 0;
  return { yaw, pitch, roll };
}
