import { z } from 'zod';
import { COLOUR_MODES, type ColourModeName } from '../math/colour/index.js';
import { OPTION_INFO } from './options.js';
import { SEGMENTATIONS } from './segmentations.js';

export { SEGMENTATIONS, segmentationOf } from './segmentations.js';

/** Sides of a swap: A is the source person, B the target person. */
export const Side = z.enum(['a', 'b']);
export type Side = z.infer<typeof Side>;

export const BackendName = z.enum(['tfjs-node-gpu', 'webgpu', 'tfjs-node', 'wasm', 'cpu']);
export type BackendName = z.infer<typeof BackendName>;
/**
 * The compute backends in plain words, for the status bar, the Settings page and the CLI's one line: what kind of
 * hardware each uses, with the backend's short name in brackets.
 */
export const COMPUTE_NAMES: Readonly<Record<BackendName, string>> = {
  'tfjs-node-gpu': 'GPU (CUDA)',
  webgpu: 'GPU (WebGPU)',
  'tfjs-node': 'CPU (TensorFlow native)',
  wasm: 'CPU (wasm)',
  cpu: 'CPU (plain JavaScript)',
};
/** 'auto' walks the fallback chain; a name forces that backend. */
export const BackendChoice = z.union([z.literal('auto'), BackendName]);
export type BackendChoice = z.infer<typeof BackendChoice>;

export const Resolution = z.union([z.literal(64), z.literal(128), z.literal(256)]);
export const Capacity = z.enum(['lite', 'standard']);
export const NormType = z.enum(['instancenorm', 'batchnorm', 'layernorm', 'groupnorm', 'hybrid', 'none']);

/** Extraction options, named as in the original where it had them. */
export const ExtractionSettings = z.object({
  frameStride: z.number().int().min(1).max(1000).default(1).register(OPTION_INFO, {
    label: 'Frame stride',
    help: 'Look at every Nth frame only: faster extraction of long videos, fewer faces to train on.',
  }),
  /** The face detector, by its name in the engine's registry (engine/detect/registry.ts). */
  detector: z.string().min(1).default('blazeface').register(OPTION_INFO, {
    label: 'Face detector',
    help: 'Which detector finds the faces (the engine lists the ones it has; blazeface is the one shipped).',
    advanced: true,
  }),
  // Boxes below the original's 0.8 get a second look (the landmark fit, engine/detect/second-look.ts) that turns
  // down the hands, textures and second boxes zoomed tiles make the detector see, so 0.6 keeps its recall of small
  // and turned faces (0.6-0.8 on the sample clip's audience) without 0.6's false faces.
  detectionThreshold: z.number().min(0).max(1).default(0.6).register(OPTION_INFO, {
    label: 'Detection threshold',
    help: 'How sure the detector must be that a box is a face; lower finds smaller and turned faces.',
    step: 0.05,
  }),
  minFaceArea: z
    .number()
    .int()
    .min(0)
    .default(35 * 35)
    .register(OPTION_INFO, {
      label: 'Smallest face',
      help: 'Faces with a smaller box (width x height) are ignored.',
      unit: 'px²',
      step: 25,
    }),
  /** The original's speed-up: detect on the whole frame only (no tiles). Faster, but misses faces far smaller than the frame. */
  useAutoDownscaling: z.boolean().default(false).register(OPTION_INFO, {
    label: 'Auto-downscale large frames',
    help: 'Faster: detect on the whole frame scaled down, not in tiles; misses faces far smaller than the frame.',
  }),
  maxTrainingFaces: z.number().int().min(1).default(2000).register(OPTION_INFO, {
    label: 'Most training faces',
    help: 'At most this many faces a side are kept for training, chosen for the widest spread of head poses.',
  }),
  blurThreshold: z.number().min(0).default(20).register(OPTION_INFO, {
    label: 'Blur threshold',
    help: 'Faces less sharp than this (variance of the Laplacian) are skipped as blurred; 0 keeps all.',
    advanced: true,
  }),
  maskDilation: z.number().int().min(0).max(64).default(9).register(OPTION_INFO, {
    label: 'Mask dilation',
    help: 'How far the automatic part masks grow beyond the landmarks.',
    unit: 'px',
    advanced: true,
  }),
  maskFeather: z.number().int().min(0).max(64).default(7).register(OPTION_INFO, {
    label: 'Mask feather',
    help: 'How softly the automatic part masks fade out at their edge.',
    unit: 'px',
    advanced: true,
  }),
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
  resolution: Resolution.default(64).register(OPTION_INFO, {
    label: 'Resolution',
    help: 'Size of the faces the model learns and draws; larger is sharper and much slower.',
    unit: 'px',
    modelShape: true,
  }),
  capacity: Capacity.default('lite').register(OPTION_INFO, {
    label: 'Capacity',
    help: "lite (the original's lite model) trains faster; standard learns more detail.",
    modelShape: true,
  }),
  iterations: z.number().int().min(1).max(1_000_000).default(20_000).register(OPTION_INFO, {
    label: 'Iterations',
    help: 'How long to train in total; a good swap takes 18,000 or more.',
  }),
  batchSize: z.number().int().min(1).max(256).default(8).register(OPTION_INFO, {
    label: 'Batch size',
    help: 'Faces of each person per step; larger is steadier and needs more memory.',
  }),
  backend: BackendChoice.default('auto').register(OPTION_INFO, {
    label: 'Compute',
    help: 'What runs the model: auto takes the fastest that works, or name one kind of compute.',
    choiceLabels: { auto: 'fastest', ...COMPUTE_NAMES },
  }),
  useSelfAttention: z.boolean().default(true).register(OPTION_INFO, {
    label: 'Self-attention',
    help: 'The self-attention layers of faceswap-GAN v2.2: better faces, about twice as slow on a CPU.',
    modelShape: true,
    flag: 'self-attention',
  }),
  norm: NormType.default('instancenorm').register(OPTION_INFO, {
    label: 'Normalisation',
    help: "The model's normalisation layers, as the original's norm option.",
    advanced: true,
    modelShape: true,
  }),
  learningRateFactor: z.number().positive().default(1).register(OPTION_INFO, {
    label: 'Learning-rate factor',
    help: "Multiplies the original's learning rates (2e-4 generator, 1e-4 discriminator).",
    advanced: true,
    step: 0.1,
  }),
  checkpointEvery: z.number().int().min(1).max(1_000_000).default(500).register(OPTION_INFO, {
    label: 'Checkpoint every',
    help: 'Iterations between checkpoints (stopping always saves one).',
  }),
  previewEvery: z.number().int().min(1).max(1_000_000).default(300).register(OPTION_INFO, {
    label: 'Preview every',
    help: 'Iterations between preview grids.',
  }),
  keepCheckpoints: z.number().int().min(1).max(100).default(3).register(OPTION_INFO, {
    label: 'Checkpoints kept',
    help: 'How many of the newest checkpoints stay on disk.',
    advanced: true,
  }),
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 31 - 1)
    .default(1)
    .register(OPTION_INFO, {
      label: 'Seed',
      help: 'Runs with the same seed (and threads) repeat exactly.',
      advanced: true,
    }),
  /** Advanced: filters of the first encoder layer (default 64 standard, 32 lite); smaller trains faster and worse. */
  modelWidth: z.number().int().min(4).max(128).optional().register(OPTION_INFO, {
    label: 'Model width',
    help: 'Filters of the first encoder layer (empty: 32 lite, 64 standard); smaller trains faster and worse.',
    advanced: true,
    modelShape: true,
  }),
  /** Advanced: filters of the discriminators' first layer (64 in the original for both capacities). */
  discriminatorWidth: z.number().int().min(4).max(128).optional().register(OPTION_INFO, {
    label: 'Discriminator width',
    help: "Filters of the discriminators' first layer (empty: 64, the original's for both capacities).",
    advanced: true,
    modelShape: true,
  }),
  /**
   * CPU threads that share each batch (data-parallel; the wasm backend runs one thread each). 'auto': one per
   * core on the CPU backends, one on a GPU. Results repeat exactly for the same number.
   */
  threads: z
    .union([z.literal('auto'), z.number().int().min(1).max(64)])
    .default('auto')
    .register(OPTION_INFO, {
      label: 'CPU threads',
      help: 'Threads that share each batch on the CPU (auto: one per core; one on a GPU).',
      choiceLabels: { auto: 'one per core' },
      advanced: true,
    }),
  adversarialLoss: AdversarialLoss.default('mixup-lsgan').register(OPTION_INFO, {
    label: 'Adversarial loss',
    help: "mixup LSGAN (the original's default) or relativistic-average LSGAN.",
    choiceLabels: { 'mixup-lsgan': 'mixup', ralsgan: 'relativistic' },
    flag: 'adversarial',
  }),
  /** The perceptual loss, switched on by the schedule (at 39 % of the run, as the original's 7,850 of 20,000). */
  perceptualLoss: z.boolean().default(true).register(OPTION_INFO, {
    label: 'Perceptual loss',
    help: 'Compare what a face-recognition network sees in the fake and the real face (on from 39 % of the run).',
    flag: 'perceptual',
  }),
  /** The optional cycle loss: A -> B -> A (and B -> A -> B) should come back to the input. */
  cycleLoss: z.boolean().default(false).register(OPTION_INFO, {
    label: 'Cycle loss',
    help: 'A to B and back to A should give A again (slower: one more pass per side).',
  }),
  /** Optional motion-blur augmentation (p = 0.25, kernel 5/7/9/11). */
  motionBlur: z.boolean().default(false).register(OPTION_INFO, {
    label: 'Motion blur',
    help: 'Blur a quarter of the training faces along a random direction (for footage with motion blur).',
  }),
  lossWeights: LossWeightSettings.default({}).register(OPTION_INFO, {
    label: 'Loss weights',
    help: 'Weights of the loss terms as JSON, e.g. {"wEyes": 30}; what is left out keeps the original\'s default.',
    advanced: true,
  }),
  /**
   * How face parts are swapped: 'masks' (the seed's Method #2: the whole face is learnt, parts are cut out by
   * landmark masks when converting) or 'augmented' (Method #1: the target's part pasted into the source's faces
   * as training data; the source's own decoder then draws the source face with the target's part).
   */
  partsMethod: z
    .enum(['masks', 'augmented'])
    .default('masks')
    .register(OPTION_INFO, {
      label: 'Face-parts method',
      help: "masks: learn the whole face and cut the parts out when converting; augmented: paste B's part into A's training faces, so A's own model draws A with B's part.",
      choiceLabels: { masks: 'Masks at conversion', augmented: "B's part in A's faces" },
    }),
  /** Method #1's part (one training per part, as the seed notes). */
  augmentedPart: z.enum(['eyes', 'eyebrows', 'nose', 'mouth']).default('eyes').register(OPTION_INFO, {
    label: 'Augmented part',
    help: 'The part the augmented method learns (one training per part).',
  }),
});
export type TrainingSettings = z.infer<typeof TrainingSettings>;

/** The converter's colour corrections: one file each in src-shared/math/colour, listed there once. */
export const ColorCorrection = z.enum(COLOUR_MODES.map((m) => m.name) as [ColourModeName, ...ColourModeName[]]);
export const OutputType = z.enum(['SINGLE', 'COMBINED', 'TRIPLE']);
export const Direction = z.enum(['AtoB', 'BtoA']);
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

export type Segmentation = z.infer<typeof Segmentation>;

/** The converter config: the original's field names, shared by the CLI, the contract and the UI form. */
export const ConverterConfig = z.object({
  image_shape: z
    .tuple([z.number().int(), z.number().int(), z.literal(3)])
    .default([64, 64, 3])
    .register(OPTION_INFO, {
      label: 'Model input',
      help: "The trained model's face size; set from the model, not by hand.",
      noFlag: true,
    }),
  use_smoothed_bbox: z.boolean().default(true).register(OPTION_INFO, {
    label: 'Smooth the face box',
    help: 'Less jitter in the swap.',
  }),
  use_kalman_filter: z.boolean().default(true).register(OPTION_INFO, {
    label: 'Kalman filter',
    help: 'Off: a moving average instead.',
  }),
  use_auto_downscaling: z.boolean().default(false).register(OPTION_INFO, {
    label: 'Auto-downscale large frames',
    help: 'Faster: detect on the whole frame scaled down, not in tiles; misses small faces.',
  }),
  bbox_moving_avg_coef: z.number().min(0).max(1).default(0.65).register(OPTION_INFO, {
    label: 'Moving-average weight',
    help: 'Higher follows the face more slowly.',
    step: 0.05,
  }),
  min_face_area: z
    .number()
    .int()
    .min(0)
    .default(35 * 35)
    .register(OPTION_INFO, {
      label: 'Smallest face',
      help: 'Faces with a smaller box are ignored.',
      unit: 'px²',
      step: 25,
    }),
  // The fork's 1e-3 was for its causal filter on the box; the studio smooths the face placement forward and
  // backward (docs/converter-defaults.md): 0.1 cut the sample clip's placement jitter to 0.26x with < 1 px lag.
  kf_noise_coef: z.number().positive().default(0.1).register(OPTION_INFO, {
    label: 'Kalman noise',
    help: 'Higher trusts each frame’s box more.',
    step: 0.001,
  }),
  color_correction: ColorCorrection.default('HISTMATCH').register(OPTION_INFO, {
    label: 'Colour correction',
    help: 'Matches the swapped face’s colours to the frame.',
    choiceLabels: Object.fromEntries(COLOUR_MODES.map((m) => [m.name, m.label])),
  }),
  // BlazeFace scores small faces lower than MTCNN did; the original's 0.8 misses the 40 px faces of the sample. The
  // second look at every new face (engine/detect/second-look.ts) removes the false faces 0.6 used to let through.
  detection_threshold: z.number().min(0).max(1).default(0.6).register(OPTION_INFO, {
    label: 'Detection threshold',
    help: 'Lower finds smaller, harder faces.',
    step: 0.05,
  }),
  roi_coverage: z.number().min(0.5).max(1).default(0.9).register(OPTION_INFO, {
    label: 'Face coverage',
    help: 'Share of the face box the model sees.',
    step: 0.01,
  }),
  output_type: OutputType.default('SINGLE').register(OPTION_INFO, {
    label: 'Output layout',
    help: 'Side-by-side layouts make the video wider.',
    choiceLabels: { SINGLE: 'Result only', COMBINED: 'Source | result', TRIPLE: 'Source | result | mask' },
  }),
  direction: Direction.default('AtoB').register(OPTION_INFO, {
    label: 'Direction',
    help: 'AtoB (the default) converts a video of A, so that A wears B’s face; BtoA a video of B.',
    choiceLabels: { AtoB: 'A → B: A wears B’s face', BtoA: 'B → A: B wears A’s face' },
  }),
  segmentation: Segmentation.default('ALL').register(OPTION_INFO, {
    label: 'Face parts',
    help: 'Only these parts take the other person’s look; the rest of the face stays.',
    choiceLabels: Object.fromEntries(SEGMENTATIONS.map((s) => [s.name, s.label])),
  }),
  /** The fork's contrast boost of the swapped region: result = -enhance * source + (1 + enhance) * swapped. */
  enhance: z.number().min(0).max(1).default(0).register(OPTION_INFO, {
    label: 'Enhance',
    help: 'Strengthens the swapped region’s change from the source (0 off; 0.1-0.4 is subtle).',
    step: 0.05,
  }),
  start_frame: z.number().int().min(0).optional().register(OPTION_INFO, {
    label: 'Start frame',
    help: 'Empty: from the first frame.',
  }),
  end_frame: z.number().int().min(0).optional().register(OPTION_INFO, {
    label: 'End frame',
    help: 'Empty: to the last frame. A range keeps its own stretch of the audio, in sync.',
  }),
  synthetic_label: z.boolean().default(false).register(OPTION_INFO, {
    label: 'Synthetic label',
    help: 'The original’s label option; exports always say “synthetic” in their metadata.',
  }),
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
