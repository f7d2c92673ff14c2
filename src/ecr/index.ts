export { ecrPlugin, type EcrProtocolDeps } from './protocol.ts';
export { OPERATION_HANDLERS } from './operations/index.ts';
export type { EcrDeps, EcrContext } from './context.ts';
