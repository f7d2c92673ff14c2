// One ECR operation: its name (from the model) and its handler, typed by the generated model.
import type { EcrContext } from './context.ts';
import type { OperationName, Operations } from './generated/model.ts';

export interface EcrOperation<N extends OperationName = OperationName> {
  name: N;
  handler: (ctx: EcrContext, input: Operations[N]['input']) => Promise<Operations[N]['output']>;
}

export function defineOperation<N extends OperationName>(name: N, handler: (ctx: EcrContext, input: Operations[N]['input']) => Promise<Operations[N]['output']>): EcrOperation<N> {
  return { name, handler };
}
