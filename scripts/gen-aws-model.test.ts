import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MODELS, generate, modelsDir } from './gen-aws-model.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const dir = modelsDir();

for (const m of MODELS) {
  test(`${m.out} is what the ${m.service} model generates (run node scripts/gen-aws-model.ts after the model changes)`, { skip: dir === undefined ? 'the AWS models are not here: set BERTH_AWS_MODELS or check out ../shared' : false }, () => {
    const want = generate(m.service, readFileSync(`${dir ?? ''}${m.model}`, 'utf8'), m.operations);
    assert.equal(readFileSync(`${root}${m.out}`, 'utf8'), want);
  });
}

test('the generated ECR model carries structure, not the documentation text', () => {
  const text = readFileSync(`${root}src/ecr/generated/model.ts`, 'utf8');
  assert.ok(!text.includes('<p>'), 'no HTML documentation');
  assert.match(text, /CreateRepository: \{"errors":\["ServerException","InvalidParameterException"/);
});
