/** The extraction's stages, as its cursors in the project's index name them. */
export const EXTRACT_STAGES = { decode: 'decode', detect: 'detect', align: 'align', select: 'select' } as const;
