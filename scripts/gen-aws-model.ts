// Generates TypeScript from an AWS service model (botocore's service-2.json): the shapes (types,
// enums, patterns, bounds, required members), each operation's input, output and error list, and
// TypeScript types for every structure. Documentation text is not copied.
//
//   node scripts/gen-aws-model.ts             writes every generated model
//   node scripts/gen-aws-model.ts --check     fails when a generated file differs from its model
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { OperationShape } from '../src/aws/shapes.ts';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/** The operations berth serves of IAM and STS: only these and the shapes they reach are generated. */
export const IAM_OPERATIONS = [
  'AddUserToGroup', 'AttachGroupPolicy', 'AttachRolePolicy', 'AttachUserPolicy', 'CreateAccessKey', 'CreateGroup', 'CreateOpenIDConnectProvider',
  'CreatePolicy', 'CreateRole', 'CreateUser', 'DeleteAccessKey', 'DeleteGroup', 'DeleteOpenIDConnectProvider', 'DeletePolicy', 'DeleteRole',
  'DeleteRolePolicy', 'DeleteUser', 'DeleteUserPolicy', 'DetachGroupPolicy', 'DetachRolePolicy', 'DetachUserPolicy', 'GetGroup', 'GetGroupPolicy', 'DeleteGroupPolicy', 'ListGroupPolicies', 'GetOpenIDConnectProvider',
  'GetPolicy', 'GetRole', 'GetRolePolicy', 'GetUser', 'GetUserPolicy', 'ListAccessKeys', 'ListAttachedGroupPolicies', 'ListAttachedRolePolicies',
  'ListAttachedUserPolicies', 'ListGroups', 'ListGroupsForUser', 'ListOpenIDConnectProviders', 'ListPolicies', 'ListRolePolicies', 'ListRoles',
  'ListUserPolicies', 'ListUsers', 'PutGroupPolicy', 'PutRolePolicy', 'PutUserPolicy', 'RemoveUserFromGroup', 'UpdateAccessKey', 'UpdateAssumeRolePolicy',
];
export const STS_OPERATIONS = ['AssumeRole', 'AssumeRoleWithWebIdentity', 'GetCallerIdentity'];

export const MODELS: Array<{ service: string; model: string; out: string; operations?: readonly string[] }> = [
  { service: 'ecr', model: 'ecr/2015-09-21/service-2.json', out: 'src/ecr/generated/model.ts' },
  { service: 'iam', model: 'iam/2010-05-08/service-2.json', out: 'src/iam/generated/iam.ts', operations: IAM_OPERATIONS },
  { service: 'sts', model: 'sts/2011-06-15/service-2.json', out: 'src/iam/generated/sts.ts', operations: STS_OPERATIONS },
];

/** Where the AWS models are: BERTH_AWS_MODELS, or ../shared/aws-models next to the checkout. */
export function modelsDir(): string | undefined {
  for (const d of [process.env.BERTH_AWS_MODELS, `${root}../shared/aws-models`, '/work/shared/aws-models']) {
    if (d !== undefined && d !== '' && existsSync(d)) return d.endsWith('/') ? d : `${d}/`;
  }
  return undefined;
}

interface RawShape {
  type: string;
  members?: Record<string, { shape: string; location?: string; locationName?: string }>;
  required?: string[];
  member?: { shape: string };
  key?: { shape: string };
  value?: { shape: string };
  enum?: string[];
  pattern?: string;
  min?: number;
  max?: number;
  exception?: boolean;
  error?: { code?: string; httpStatusCode?: number };
}

interface RawModel {
  metadata: Record<string, unknown>;
  operations: Record<string, { input?: { shape: string }; output?: { shape: string; resultWrapper?: string }; errors?: Array<{ shape: string }> }>;
  shapes: Record<string, RawShape>;
}

function tsType(shapes: Record<string, RawShape>, name: string): string {
  const s = shapes[name];
  if (s === undefined) throw new Error(`unknown shape ${name}`);
  switch (s.type) {
    case 'structure':
      return name;
    case 'list':
      return `Array<${tsType(shapes, s.member?.shape ?? '')}>`;
    case 'map':
      return `Record<string, ${tsType(shapes, s.value?.shape ?? '')}>`;
    case 'string':
      return s.enum !== undefined ? name : 'string';
    case 'boolean':
      return 'boolean';
    case 'timestamp':
      return 'number';
    case 'blob':
      return 'string';
    default:
      return 'number';
  }
}

function q(s: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(s) ? s : JSON.stringify(s);
}

/** Keeps only the named operations and the shapes they reach (inputs, outputs, errors). */
function subset(model: RawModel, operations: readonly string[]): RawModel {
  const ops: RawModel['operations'] = {};
  const keep = new Set<string>();
  const visit = (name: string): void => {
    if (keep.has(name)) return;
    const s = model.shapes[name];
    if (s === undefined) throw new Error(`unknown shape ${name}`);
    keep.add(name);
    for (const m of Object.values(s.members ?? {})) visit(m.shape);
    for (const ref of [s.member, s.key, s.value]) if (ref !== undefined) visit(ref.shape);
  };
  for (const name of operations) {
    const o = model.operations[name];
    if (o === undefined) throw new Error(`the model has no operation ${name}`);
    ops[name] = o;
    if (o.input !== undefined) visit(o.input.shape);
    if (o.output !== undefined) visit(o.output.shape);
    for (const e of o.errors ?? []) visit(e.shape);
  }
  return { ...model, operations: ops, shapes: Object.fromEntries(Object.entries(model.shapes).filter(([n]) => keep.has(n))) };
}

export function generate(service: string, modelText: string, operations?: readonly string[]): string {
  const full = JSON.parse(modelText) as RawModel;
  const model = operations === undefined ? full : subset(full, operations);
  const names = Object.keys(model.shapes).sort();
  const out: string[] = [
    `// Generated by scripts/gen-aws-model.ts from botocore's ${service} service-2.json (${String(model.metadata.apiVersion)})${operations === undefined ? '' : ', for the operations berth serves'}.`,
    '// Structure only; the documentation text of the model is not copied. Do not edit.',
    '/* eslint-disable */',
    "import type { OperationShape, Shape } from '../../aws/shapes.ts';",
    '',
    `export const METADATA = ${JSON.stringify(
      {
        apiVersion: model.metadata.apiVersion,
        targetPrefix: model.metadata.targetPrefix,
        signingName: model.metadata.signingName,
        jsonVersion: model.metadata.jsonVersion,
        protocol: model.metadata.protocol,
        xmlNamespace: model.metadata.xmlNamespace,
      },
      null,
      2,
    )} as const;`,
    '',
    'export const SHAPES: Record<string, Shape> = {',
  ];
  for (const name of names) {
    const s = model.shapes[name] as RawShape;
    const o: Record<string, unknown> = { type: s.type };
    if (s.type === 'structure') {
      const members: Record<string, unknown> = {};
      for (const [m, v] of Object.entries(s.members ?? {})) {
        const mm: Record<string, string> = { shape: v.shape };
        if (v.location !== undefined) mm.location = v.location;
        if (v.locationName !== undefined) mm.locationName = v.locationName;
        members[m] = mm;
      }
      o.members = members;
      if (s.required !== undefined) o.required = s.required;
      if (s.exception === true) o.exception = true;
      if (s.error?.code !== undefined) o.error = { code: s.error.code, status: s.error.httpStatusCode ?? 400 };
    }
    if (s.member !== undefined) o.member = s.member.shape;
    if (s.key !== undefined) o.key = s.key.shape;
    if (s.value !== undefined) o.value = s.value.shape;
    for (const k of ['enum', 'pattern', 'min', 'max'] as const) if (s[k] !== undefined) o[k] = s[k];
    out.push(`  ${q(name)}: ${JSON.stringify(o)},`);
  }
  out.push('};', '');
  const ops = Object.keys(model.operations).sort();
  out.push(`export type OperationName =\n${ops.map((o) => `  | ${JSON.stringify(o)}`).join('\n')};`, '');
  out.push('export const OPERATIONS: Record<OperationName, OperationShape> = {');
  for (const op of ops) {
    const o = model.operations[op];
    const entry: OperationShape = { errors: (o?.errors ?? []).map((e) => e.shape) };
    if (o?.input !== undefined) entry.input = o.input.shape;
    if (o?.output !== undefined) entry.output = o.output.shape;
    if (o?.output?.resultWrapper !== undefined) entry.resultWrapper = o.output.resultWrapper;
    out.push(`  ${op}: ${JSON.stringify(entry)},`);
  }
  out.push('};', '');
  for (const name of names) {
    const s = model.shapes[name] as RawShape;
    if (s.type === 'structure') {
      const req = new Set(s.required ?? []);
      const members = Object.entries(s.members ?? {}).map(([m, v]) => `  ${q(m)}${req.has(m) ? '' : '?'}: ${tsType(model.shapes, v.shape)};`);
      out.push(`export interface ${name} {${members.length === 0 ? '' : `\n${members.join('\n')}\n`}}`);
    } else if (s.type === 'string' && s.enum !== undefined) {
      out.push(`export type ${name} = ${(s.enum ?? []).map((e) => JSON.stringify(e)).join(' | ')};`);
    }
  }
  out.push('');
  out.push('/** Input and output types of every operation. */');
  out.push('export interface Operations {');
  for (const op of ops) {
    const o = model.operations[op];
    const input = o?.input !== undefined ? o.input.shape : 'Record<string, never>';
    const output = o?.output !== undefined ? o.output.shape : 'Record<string, never>';
    out.push(`  ${op}: { input: ${input}; output: ${output} };`);
  }
  out.push('}', '');
  return out.join('\n');
}

if (import.meta.main) {
  const dir = modelsDir();
  if (dir === undefined) {
    process.stderr.write('the AWS models are not here: set BERTH_AWS_MODELS or check out ../shared\n');
    process.exit(2);
  }
  const check = process.argv.includes('--check');
  let drift = false;
  for (const m of MODELS) {
    const text = generate(m.service, readFileSync(`${dir}${m.model}`, 'utf8'), m.operations);
    const path = `${root}${m.out}`;
    if (check) {
      const have = existsSync(path) ? readFileSync(path, 'utf8') : '';
      if (have !== text) {
        process.stderr.write(`${m.out} differs from ${m.model}: run node scripts/gen-aws-model.ts\n`);
        drift = true;
      }
    } else {
      writeFileSync(path, text);
      process.stdout.write(`wrote ${m.out}\n`);
    }
  }
  process.exitCode = drift ? 1 : 0;
}
