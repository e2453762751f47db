/** Which engine stages this build has; the CLI and UI say so clearly when one is missing. */
export const availableStages = {
  decode: true,
  detect: true,
  landmarks: true,
  align: true,
  masks: true,
  train: true,
  convert: true,
  metrics: true,
};
