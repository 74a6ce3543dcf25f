/** The public API of the keel package: typed config files. */
export { defineConfig, type UserConfig } from './config/define-config.js';
export type { RequestContext } from './front/request-context.js';
