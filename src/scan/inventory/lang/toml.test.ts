import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readArrayTables } from './toml.ts';

test('string keys of each [[table]], sub-tables prefixed, other tables ignored', () => {
  const source = [
    'title = "top level"',
    '[[package]]',
    'name = "a"',
    "version = '1.0'",
    '"quoted key" = "q"',
    'number = 3',
    'flag = true',
    '[package.source]',
    'type = "git"',
    '[[package.files]]',
    'name = "not a"',
    '[[package]]',
    '  name = "b" # indented, with a comment',
    '[other]',
    'name = "not b"',
    '[[package]]',
    'name = "c\\u00e9\\t\\"x\\""',
  ].join('\r\n');
  assert.deepEqual(readArrayTables(source, 'package'), [
    { name: 'a', version: '1.0', 'quoted key': 'q', 'source.type': 'git' },
    { name: 'b' },
    { name: 'cé\t"x"' },
  ]);
});

test('multi-line arrays, inline tables and strings are stepped over, brackets and quotes inside them included', () => {
  const source = `[[package]]
name = "a"
files = [
  {file = "a]b[.whl", hash = "sha256:1"}, # ] a comment
  "[[package]]",
]
description = """
[[package]]
name = "fake"
"""
extra = '''it's ]'''
version = "2"
`;
  assert.deepEqual(readArrayTables(source, 'package'), [{ name: 'a', version: '2' }]);
});

test('unterminated values end the reading without a throw', () => {
  assert.deepEqual(readArrayTables('[[package]]\nname = "a"\nfiles = [\n  "x",\n', 'package'), [{ name: 'a' }]);
  assert.deepEqual(readArrayTables('[[package]]\nname = "a\nversion = "1"\n', 'package'), [{ version: '1' }]);
  assert.deepEqual(readArrayTables('[[package]]\nd = """never closed\nname = "x"', 'package'), [{}]);
  assert.deepEqual(readArrayTables('[[package', 'package'), []);
});
