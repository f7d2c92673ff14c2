import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDestinations } from './destinations.ts';

const KEY = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };

describe('replication.destinations', () => {
  test('JSON, YAML or a mapping; berth by default, any OCI registry with type oci', () => {
    const json = parseDestinations(JSON.stringify({ 'us-west-2': { endpoint: 'https://berth-west.example.com:5000/', ...KEY } }));
    assert.deepEqual(json.get('us-west-2'), { type: 'berth', endpoint: 'https://berth-west.example.com:5000', ...KEY });
    const yaml = parseDestinations(`
eu-west-1:
  endpoint: http://10.0.0.2:5000
  accessKeyId: ${KEY.accessKeyId}
  secretAccessKey: ${KEY.secretAccessKey}
dist-local:
  type: oci
  endpoint: http://127.0.0.1:5001
  username: alice
  password: wonderland
`);
    assert.deepEqual([...yaml.keys()], ['eu-west-1', 'dist-local']);
    assert.deepEqual(yaml.get('dist-local'), { type: 'oci', endpoint: 'http://127.0.0.1:5001', username: 'alice', password: 'wonderland' });
    assert.equal(parseDestinations({ 'us-west-2': { type: 'oci', endpoint: 'http://r:5000' } }).get('us-west-2')?.type, 'oci');
    assert.equal(parseDestinations(undefined).size, 0);
    assert.equal(parseDestinations('  ').size, 0);
  });

  test('what is wrong is said, without echoing secrets', () => {
    const problem = (v: string | Record<string, unknown>): string => {
      try {
        parseDestinations(v);
      } catch (e) {
        return (e as Error).message;
      }
      throw new Error('accepted');
    };
    assert.match(problem('{"us-west-2": '), /not a JSON or YAML mapping/);
    assert.match(problem({ 'us-west-2': { endpoint: 'http://x:5000/v2', ...KEY } }), /us-west-2\.endpoint: an http\(s\) URL without path/);
    assert.match(problem({ 'us-west-2': { endpoint: 'ftp://x', ...KEY } }), /us-west-2\.endpoint/);
    assert.match(problem({ 'us-west-2': { endpoint: 'http://x:5000' } }), /us-west-2\.accessKeyId/);
    assert.match(problem({ 'US West': { type: 'oci', endpoint: 'http://x:5000' } }), /"US West" is not a region name/);
    assert.match(problem({ 'us-west-2': { type: 'quay', endpoint: 'http://x:5000' } }), /us-west-2/);
    const leaked = problem({ 'us-west-2': { endpoint: 'http://x:5000', accessKeyId: 'lowercase-secret-ish', secretAccessKey: 'short' } });
    assert.ok(!leaked.includes('lowercase-secret-ish') && !leaked.includes('short'), leaked);
  });
});
