import type { ColourMode } from './mode.js';

export const none: ColourMode = {
  name: 'NONE',
  label: 'None',
  help: "the generator's colours as they are",
  correct: (generated) => generated,
};
