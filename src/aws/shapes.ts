// The structure of an AWS service model (botocore service-2.json), as the generated code records
// it: shapes without their documentation text.
export type Shape =
  | { type: 'structure'; members: Record<string, { shape: string; location?: string; locationName?: string }>; required?: readonly string[]; exception?: boolean; error?: { code: string; status: number } }
  | { type: 'list'; member: string; min?: number; max?: number }
  | { type: 'map'; key: string; value: string; min?: number; max?: number }
  | { type: 'string'; enum?: readonly string[]; pattern?: string; min?: number; max?: number }
  | { type: 'integer' | 'long' | 'double' | 'float'; min?: number; max?: number }
  | { type: 'boolean' }
  | { type: 'timestamp' }
  | { type: 'blob'; min?: number; max?: number };

export interface OperationShape {
  input?: string;
  output?: string;
  errors: readonly string[];
  /** Query protocol: the element that wraps the output (`CreateUserResult`). */
  resultWrapper?: string;
}
