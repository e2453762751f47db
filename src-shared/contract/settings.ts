import { z } from 'zod';
import { COLOUR_MODES, type ColourModeName } from '../math/colour/index.js';

/** Sides of a swap: A is the source person, B the target person. */
export const Side = z.enum(['a', 'b']);
export type Side = z.infer<typeof Side>;

export const BackendName = z.enum(['tfjs-node-gpu', 'webgpu', 'tfjs-node', 'wasm', 'cpu']);
export type BackendName = z.infer<typeof BackendName>;
/** 'auto' walks the fallback chain; a name forces that backend. */
export const BackendChoice = z.union([z.literal('auto'), BackendName]);
export type BackendChoice = z.infer<typeof BackendChoice>;

export const Resolution = z.union([z.literal(64), z.literal(128), z.literal(256)]);
export const Capacity = z.enum(['lite', 'standard']);
export const NormType = z.enum(['instancenorm', 'batchnorm', 'layernorm', 'groupnorm', 'hybrid', 'none']);

/** Extraction options, named as in the original where it had them. */
export const ExtractionSettings = z.object({
  frameStride: z.number().int().min(1).max(1000).default(1),
  detectionThreshold: z.number().min(0).max(1).default(0.6),
  minFaceArea: z
    .number()
    .int()
    .min(0)
    .default(35 * 35),
  /** The original's speed-up: detect on the whole frame only (no tiles). Faster, but misses faces far smaller than the frame. */
  useAutoDownscaling: z.boolean().default(false),
  maxTrainingFaces: z.number().int().min(1).default(2000),
  blurThreshold: z.number().min(0).default(20),
  maskDilation: z.number().int().min(0).max(64).default(9),
  maskFeather: z.number().int().min(0).max(64).default(7),
});
export type ExtractionSettings = z.infer<typeof ExtractionSettings>;

/** Training options with the original's defaults (faceswap-gan-spec.md). */
/** The adversarial loss: the original's default mixup-LSGAN, or relativistic-average LSGAN. */
export const AdversarialLoss = z.enum(['mixup-lsgan', 'ralsgan']);
export type AdversarialLoss = z.infer<typeof AdversarialLoss>;

/** Loss weights, each optional: what is left out keeps the original's default (train/losses.ts). */
export const LossWeightSettings = z
  .strictObject({
    wD: z.number().min(0).max(100),
    wRecon: z.number().min(0).max(100),
    wEdge: z.number().min(0).max(100),
    wEyes: z.number().min(0).max(1000),
    /** Deepest to shallowest feature map. */
    wPerceptual: z.tuple([z.number().min(0), z.number().min(0), z.number().min(0), z.number().min(0)]),
    maskL1: z.number().min(0).max(100),
    maskHinge: z.number().min(0).max(100),
    maskTV: z.number().min(0).max(100),
    cycle: z.number().min(0).max(1000),
    weightDecay: z.number().min(0).max(1),
  })
  .partial();

export const TrainingSettings = z.object({
  resolution: Resolution.default(64),
  capacity: Capacity.default('lite'),
  iterations: z.number().int().min(1).max(1_000_000).default(20_000),
  batchSize: z.number().int().min(1).max(256).default(8),
  backend: BackendChoice.default('auto'),
  useSelfAttention: z.boolean().default(true),
  norm: NormType.default('instancenorm'),
  learningRateFactor: z.number().positive().default(1),
  checkpointEvery: z.number().int().min(1).default(500),
  previewEvery: z.number().int().min(1).default(300),
  keepCheckpoints: z.number().int().min(1).max(100).default(3),
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 31 - 1)
    .default(1),
  /** Advanced: filters of the first encoder layer (default 64 standard, 32 lite); smaller trains faster and worse. */
  modelWidth: z.number().int().min(4).max(128).optional(),
  /** Advanced: filters of the discriminators' first layer (64 in the original for both capacities). */
  discriminatorWidth: z.number().int().min(4).max(128).optional(),
  /**
   * CPU threads that share each batch (data-parallel; the wasm backend runs one thread each). 'auto': one per
   * core on the CPU backends, one on a GPU. Results repeat exactly for the same number.
   */
  threads: z.union([z.literal('auto'), z.number().int().min(1).max(64)]).default('auto'),
  adversarialLoss: AdversarialLoss.default('mixup-lsgan'),
  /** The perceptual loss, switched on by the schedule (at 39 % of the run, as the original's 7,850 of 20,000). */
  perceptualLoss: z.boolean().default(true),
  /** The optional cycle loss: A -> B -> A (and B -> A -> B) should come back to the input. */
  cycleLoss: z.boolean().default(false),
  /** Optional motion-blur augmentation (p = 0.25, kernel 5/7/9/11). */
  motionBlur: z.boolean().default(false),
  lossWeights: LossWeightSettings.default({}),
  /**
   * How face parts are swapped: 'masks' (the seed's Method #2: the whole face is learnt, parts are cut out by
   * landmark masks when converting) or 'augmented' (Method #1: the target's part pasted into the source's faces
   * as training data; the source's own decoder then draws the source face with the target's part).
   */
  partsMethod: z.enum(['masks', 'augmented']).default('masks'),
  /** Method #1's part (one training per part, as the seed notes). */
  augmentedPart: z.enum(['eyes', 'eyebrows', 'nose', 'mouth']).default('eyes'),
});
export type TrainingSettings = z.infer<typeof TrainingSettings>;

/** The converter's colour corrections: one file each in src-shared/math/colour, listed there once. */
export const ColorCorrection = z.enum(COLOUR_MODES.map((m) => m.name) as [ColourModeName, ...ColourModeName[]]);
export const OutputType = z.enum(['SINGLE', 'COMBINED', 'TRIPLE']);
export const Direction = z.enum(['AtoB', 'BtoA']);
/**
 * The converter's segmentation choices, declared once: the face-parts fork's SegmentationType names (ALL,
 * EYES_ONLY, ... MOUTH_AND_EYEBROWS, with its empty MOUTH_AND_EYEBROWS mask fixed), then the further combinations
 * this studio adds; each with the parts it blends, the names earlier versions of the studio wrote (still accepted
 * in project.json, the CLI and the contract) and the label the studio shows.
 */
export const SEGMENTATIONS = [
  { name: 'ALL', parts: ['face'], aliases: ['FACE'], label: 'Whole face' },
  { name: 'EYES_ONLY', parts: ['eyes'], aliases: ['EYES'], label: 'Eyes' },
  { name: 'EYEBROWS_ONLY', parts: ['eyebrows'], aliases: ['EYEBROWS'], label: 'Eyebrows' },
  { name: 'NOSE_ONLY', parts: ['nose'], aliases: ['NOSE'], label: 'Nose' },
  { name: 'MOUTH_ONLY', parts: ['mouth'], aliases: ['MOUTH'], label: 'Mouth' },
  { name: 'EYES_AND_EYEBROWS', parts: ['eyes', 'eyebrows'], aliases: [], label: 'Eyes and eyebrows' },
  { name: 'EYES_AND_MOUTH', parts: ['eyes', 'mouth'], aliases: [], label: 'Eyes and mouth' },
  { name: 'EYES_AND_NOSE', parts: ['eyes', 'nose'], aliases: [], label: 'Eyes and nose' },
  { name: 'EYEBROWS_AND_NOSE', parts: ['eyebrows', 'nose'], aliases: [], label: 'Eyebrows and nose' },
  { name: 'MOUTH_AND_NOSE', parts: ['mouth', 'nose'], aliases: ['NOSE_AND_MOUTH'], label: 'Nose and mouth' },
  { name: 'MOUTH_AND_EYEBROWS', parts: ['mouth', 'eyebrows'], aliases: [], label: 'Eyebrows and mouth' },
  {
    name: 'EYES_EYEBROWS_AND_NOSE',
    parts: ['eyes', 'eyebrows', 'nose'],
    aliases: [],
    label: 'Eyes, eyebrows and nose',
  },
  {
    name: 'EYES_EYEBROWS_AND_MOUTH',
    parts: ['eyes', 'eyebrows', 'mouth'],
    aliases: [],
    label: 'Eyes, eyebrows and mouth',
  },
  { name: 'EYES_NOSE_AND_MOUTH', parts: ['eyes', 'nose', 'mouth'], aliases: [], label: 'Eyes, nose and mouth' },
  {
    name: 'EYEBROWS_NOSE_AND_MOUTH',
    parts: ['eyebrows', 'nose', 'mouth'],
    aliases: [],
    label: 'Eyebrows, nose and mouth',
  },
  {
    name: 'EYES_EYEBROWS_NOSE_AND_MOUTH',
    parts: ['eyes', 'eyebrows', 'nose', 'mouth'],
    aliases: [],
    label: 'Eyes, eyebrows, nose and mouth',
  },
] as const satisfies ReadonlyArray<{
  name: string;
  parts: ReadonlyArray<'face' | 'eyes' | 'eyebrows' | 'nose' | 'mouth'>;
  aliases: readonly string[];
  label: string;
}>;

type SegmentationName = (typeof SEGMENTATIONS)[number]['name'];
const SEGMENTATION_NAMES = SEGMENTATIONS.map((s) => s.name) as [SegmentationName, ...SegmentationName[]];
const SEGMENTATION_ALIASES = new Map<string, SegmentationName>(
  SEGMENTATIONS.flatMap((s) => s.aliases.map((alias): [string, SegmentationName] => [alias, s.name])),
);

/** The segmentation names themselves (what the contract hands out and the studio shows). */
export const SegmentationName = z.enum(SEGMENTATION_NAMES);

/** A segmentation as accepted from users and files: a name above, any case, or a name earlier versions wrote. */
export const Segmentation = z.preprocess(
  (value) =>
    typeof value === 'string' ? (SEGMENTATION_ALIASES.get(value.toUpperCase()) ?? value.toUpperCase()) : value,
  SegmentationName,
);

/** The parts a segmentation blends, and its label. */
export function segmentationOf(name: string): (typeof SEGMENTATIONS)[number] | undefined {
  const upper = name.toUpperCase();
  return SEGMENTATIONS.find((s) => s.name === upper || (s.aliases as readonly string[]).includes(upper));
}
export type Segmentation = z.infer<typeof Segmentation>;

/** The converter config: the original's field names, shared by the CLI, the contract and the UI form. */
export const ConverterConfig = z.object({
  image_shape: z.tuple([z.number().int(), z.number().int(), z.literal(3)]).default([64, 64, 3]),
  use_smoothed_bbox: z.boolean().default(true),
  use_kalman_filter: z.boolean().default(true),
  use_auto_downscaling: z.boolean().default(false),
  bbox_moving_avg_coef: z.number().min(0).max(1).default(0.65),
  min_face_area: z
    .number()
    .int()
    .min(0)
    .default(35 * 35),
  // The fork's 1e-3 was for its causal filter on the box; the studio smooths the face placement forward and
  // backward (docs/converter-defaults.md): 0.1 cut the sample clip's placement jitter to 0.26x with < 1 px lag.
  kf_noise_coef: z.number().positive().default(0.1),
  color_correction: ColorCorrection.default('HISTMATCH'),
  // BlazeFace scores small faces lower than MTCNN did; the original's 0.8 misses the 40 px faces of the sample.
  detection_threshold: z.number().min(0).max(1).default(0.6),
  roi_coverage: z.number().min(0.5).max(1).default(0.9),
  output_type: OutputType.default('SINGLE'),
  direction: Direction.default('AtoB'),
  segmentation: Segmentation.default('ALL'),
  /** The fork's contrast boost of the swapped region: result = -enhance * source + (1 + enhance) * swapped. */
  enhance: z.number().min(0).max(1).default(0),
  start_frame: z.number().int().min(0).optional(),
  end_frame: z.number().int().min(0).optional(),
  synthetic_label: z.boolean().default(false),
});
export type ConverterConfig = z.infer<typeof ConverterConfig>;

export const ProjectSettings = z.object({
  extraction: ExtractionSettings.prefault({}),
  training: TrainingSettings.prefault({}),
  converter: ConverterConfig.prefault({}),
});
export type ProjectSettings = z.infer<typeof ProjectSettings>;

/**
 * The same fields, all optional and WITHOUT defaults: zod's .partial() keeps .default(), so a patch that leaves a
 * field out would otherwise carry the contract default and overwrite the project's own value.
 */
export function patchOf<T extends z.ZodRawShape>(schema: z.ZodObject<T>) {
  const shape: Record<string, z.ZodType> = {};
  for (const [key, field] of Object.entries(schema.shape)) {
    const inner = field instanceof z.ZodDefault ? (field.removeDefault() as z.ZodType) : (field as z.ZodType);
    shape[key] = inner.optional();
  }
  return z.strictObject(shape) as unknown as z.ZodObject<{ [K in keyof T]: z.ZodOptional<T[K]> }>;
}

export const ExtractionPatch = patchOf(ExtractionSettings);
export const TrainingPatch = patchOf(TrainingSettings);
export const ConverterPatch = patchOf(ConverterConfig);

/** Deep-partial settings patch accepted by project.updateSettings and project.create. */
export const ProjectSettingsPatch = z.object({
  extraction: ExtractionPatch.optional(),
  training: TrainingPatch.optional(),
  converter: ConverterPatch.optional(),
});
export type ProjectSettingsPatch = z.infer<typeof ProjectSettingsPatch>;
