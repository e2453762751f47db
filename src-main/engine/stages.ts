/** Which engine stages this build has; the CLI and UI say so clearly when one is missing. */
export const availableStages = {
  decode: true,
  detect: false,
  landmarks: false,
  align: false,
  masks: false,
  train: false,
  convert: false,
  metrics: false,
};
