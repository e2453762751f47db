export * from './settings.js';
export * from './project.js';
export * from './jobs.js';
export * from './events.js';
export * from './methods.js';
export * from './errors.js';
export * from './envelope.js';
export * from './client.js';
