import assert from 'node:assert/strict';
import { test } from 'node:test';
import { depsJsonExtractor } from './dotnet.ts';
import { extractFile, fileEntry, ids, LAYER } from './entry.fixture.ts';

const depsJson = `\ufeff${JSON.stringify({
  runtimeTarget: { name: '.NETCoreApp,Version=v8.0', signature: '' },
  compilationOptions: {},
  targets: { '.NETCoreApp,Version=v8.0': { 'Shop.Api/1.0.0': { dependencies: { 'Newtonsoft.Json': '13.0.1' } } } },
  libraries: {
    'Shop.Api/1.0.0': { type: 'project', serviceable: false, sha512: '' },
    'Newtonsoft.Json/13.0.1': { type: 'package', serviceable: true, sha512: 'sha512-x', path: 'newtonsoft.json/13.0.1' },
    'System.Text.Encodings.Web/4.7.1': { type: 'package', serviceable: true, sha512: 'sha512-y' },
    'Shop.Core/1.0.0': { type: 'reference' },
    'NoVersion': { type: 'package' },
    'Bad.Type/1.0.0': { type: 7 },
  },
})}`;

test('*.deps.json: package libraries (UTF-8 BOM and all), not projects or references', async () => {
  const packages = await extractFile(depsJsonExtractor, 'app/Shop.Api.deps.json', depsJson);
  assert.deepEqual(ids(packages), ['Newtonsoft.Json@13.0.1', 'System.Text.Encodings.Web@4.7.1']);
  assert.deepEqual(packages.find((p) => p.name === 'Newtonsoft.Json'), {
    name: 'Newtonsoft.Json',
    version: '13.0.1',
    ecosystem: 'NuGet',
    kind: 'lang',
    layerDigest: LAYER,
    path: 'app/Shop.Api.deps.json',
    purl: 'pkg:nuget/Newtonsoft.Json@13.0.1',
  });
  assert.ok(!depsJsonExtractor.wants(fileEntry('app/Shop.Api.runtimeconfig.json')));
});

test('a malformed deps.json gives no packages', async () => {
  for (const content of [depsJson.slice(0, 200), '{"libraries": []}', '{"libraries": "x"}', '\u0000']) {
    assert.deepEqual(await extractFile(depsJsonExtractor, 'x.deps.json', content), [], content.slice(0, 20));
  }
});
