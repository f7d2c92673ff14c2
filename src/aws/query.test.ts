// The query protocol's codec against a small model of its own: form parameters to inputs (nested
// lists, structures and maps, scalars of every type, unknown parameters refused) and outputs to the
// XML the SDKs parse (member lists, escaping, timestamps, empty lists), and the error document.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeQuery, encodeQueryError, encodeQueryResponse, escapeXml, QueryDecodeError } from './query.ts';
import type { Shape } from './shapes.ts';
import { SHAPES as IAM_SHAPES } from '../iam/generated/iam.ts';

const SHAPES: Record<string, Shape> = {
  Input: {
    type: 'structure',
    members: {
      Name: { shape: 'Str' },
      Count: { shape: 'Int' },
      Big: { shape: 'Long' },
      Ratio: { shape: 'Dbl' },
      Flag: { shape: 'Bool' },
      When: { shape: 'Ts' },
      Tags: { shape: 'TagList' },
      Ids: { shape: 'StrList' },
      Matrix: { shape: 'Matrix' },
      Attrs: { shape: 'Attrs' },
      Nested: { shape: 'Nested' },
      Renamed: { shape: 'Str', locationName: 'OtherName' },
    },
    required: ['Name'],
  },
  Output: {
    type: 'structure',
    members: {
      Name: { shape: 'Str' },
      Count: { shape: 'Int' },
      Ratio: { shape: 'Dbl' },
      Flag: { shape: 'Bool' },
      When: { shape: 'Ts' },
      Tags: { shape: 'TagList' },
      Ids: { shape: 'StrList' },
      Attrs: { shape: 'Attrs' },
      Nested: { shape: 'Nested' },
      Renamed: { shape: 'Str', locationName: 'OtherName' },
    },
  },
  Nested: { type: 'structure', members: { Inner: { shape: 'StrList' }, Deep: { shape: 'Tag' }, On: { shape: 'Bool' } } },
  Tag: { type: 'structure', members: { Key: { shape: 'Str' }, Value: { shape: 'Str' } }, required: ['Key', 'Value'] },
  TagList: { type: 'list', member: 'Tag' },
  StrList: { type: 'list', member: 'Str' },
  Matrix: { type: 'list', member: 'StrList' },
  Attrs: { type: 'map', key: 'Str', value: 'Int' },
  Str: { type: 'string' },
  Int: { type: 'integer' },
  Long: { type: 'long' },
  Dbl: { type: 'double' },
  Bool: { type: 'boolean' },
  Ts: { type: 'timestamp' },
  Empty: { type: 'structure', members: {} },
};

const form = (s: string): URLSearchParams => new URLSearchParams(s);
const decode = (s: string): Record<string, unknown> => decodeQuery(SHAPES, 'Input', form(s));

/** The QueryDecodeError decoding the parameters raises: its path and message. */
function decodeError(s: string): { path: string; message: string } {
  try {
    decode(s);
  } catch (e) {
    assert.ok(e instanceof QueryDecodeError, `a QueryDecodeError, not ${String(e)}`);
    return { path: e.path, message: e.message };
  }
  throw new Error(`decoded ${s}`);
}

const XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n';
const NS = 'https://example.amazonaws.com/doc/2020-01-01/';

describe('decodeQuery', () => {
  test('scalars of every type, Action and Version aside; absent members stay absent', () => {
    const input = decode('Action=Do&Version=2020-01-01&Name=n&Count=-42&Big=9007199254740991&Ratio=2.5e-1&Flag=true&When=2024-02-03T04:05:06Z&OtherName=r');
    assert.deepEqual(input, { Name: 'n', Count: -42, Big: 9007199254740991, Ratio: 0.25, Flag: true, When: Date.UTC(2024, 1, 3, 4, 5, 6) / 1000, Renamed: 'r' });
    assert.deepEqual(decode('Name=x'), { Name: 'x' });
    assert.ok(!('Tags' in decode('Name=x')));
    assert.deepEqual(decode('Flag=false'), { Flag: false });
    // An empty value is an empty string, for the validator to judge.
    assert.deepEqual(decode('Name='), { Name: '' });
  });

  test('lists of structures and of strings, counted from 1, in member order whatever the parameter order', () => {
    const input = decode('Tags.member.2.Value=v2&Tags.member.1.Key=k1&Tags.member.2.Key=k2&Tags.member.1.Value=v1&Ids.member.1=a&Ids.member.2=b&Ids.member.3=c');
    assert.deepEqual(input, { Tags: [{ Key: 'k1', Value: 'v1' }, { Key: 'k2', Value: 'v2' }], Ids: ['a', 'b', 'c'] });
    // A structure with only some members: those.
    assert.deepEqual(decode('Tags.member.1.Key=only'), { Tags: [{ Key: 'only' }] });
  });

  test('an empty list is sent as the bare name with an empty value', () => {
    assert.deepEqual(decode('Ids=&Tags='), { Ids: [], Tags: [] });
  });

  test('lists of lists, maps (entry.N.key / entry.N.value) and nested structures', () => {
    const input = decode('Matrix.member.1.member.1=a&Matrix.member.1.member.2=b&Matrix.member.2.member.1=c&Attrs.entry.1.key=one&Attrs.entry.1.value=1&Attrs.entry.2.key=two&Attrs.entry.2.value=2&Nested.Inner.member.1=x&Nested.Deep.Key=k&Nested.Deep.Value=v&Nested.On=true');
    assert.deepEqual(input, {
      Matrix: [['a', 'b'], ['c']],
      Attrs: { one: 1, two: 2 },
      Nested: { Inner: ['x'], Deep: { Key: 'k', Value: 'v' }, On: true },
    });
  });

  test('booleans are true or false, nothing else', () => {
    for (const v of ['TRUE', 'True', '1', 'yes', '']) {
      assert.deepEqual(decodeError(`Flag=${v}`), { path: 'Flag', message: `Value '${v}' at 'Flag' is not a valid boolean` }, v);
    }
    assert.deepEqual(decodeError('Nested.On=on'), { path: 'Nested.On', message: "Value 'on' at 'Nested.On' is not a valid boolean" });
  });

  test('integers are decimal digits within their range; doubles decimal numbers', () => {
    assert.equal(decode('Count=2147483647').Count, 2147483647);
    assert.equal(decode('Count=%2B7').Count, 7);
    assert.equal(decode('Big=4294967296').Big, 4294967296);
    for (const v of ['4.2', '1e3', '0x10', ' 5', '5 ', '', 'abc', 'Infinity', 'NaN', '2147483648', '-2147483649']) {
      assert.deepEqual(decodeError(`Count=${encodeURIComponent(v)}`), { path: 'Count', message: `Value '${v}' at 'Count' is not a valid number` }, JSON.stringify(v));
    }
    assert.equal(decodeError('Big=9007199254740993').path, 'Big', 'beyond what a double holds exactly');
    assert.equal(decode('Ratio=-.5').Ratio, -0.5);
    assert.equal(decode('Ratio=3').Ratio, 3);
    assert.equal(decode('Ratio=1.5E2').Ratio, 150);
    for (const v of ['0x1', 'Infinity', '1e999', '', '.', '1.2.3']) assert.equal(decodeError(`Ratio=${encodeURIComponent(v)}`).path, 'Ratio', JSON.stringify(v));
  });

  test('timestamps: ISO 8601 or epoch seconds, decoded to epoch seconds', () => {
    assert.equal(decode('When=2024-02-03T04:05:06.250Z').When, Date.UTC(2024, 1, 3, 4, 5, 6, 250) / 1000);
    assert.equal(decode('When=1700000000').When, 1700000000);
    assert.equal(decode('When=1700000000.5').When, 1700000000.5);
    assert.deepEqual(decodeError('When=yesterday'), { path: 'When', message: "Value 'yesterday' at 'When' is not a valid timestamp" });
  });

  test('a parameter the model does not know is a QueryDecodeError naming it', () => {
    assert.deepEqual(decodeError('Name=x&Bogus=1'), { path: 'Bogus', message: 'Unknown parameter: Bogus' });
    // Members are matched by their wire name, case and all.
    assert.equal(decodeError('name=x').path, 'name');
    assert.equal(decodeError('Renamed=x').path, 'Renamed');
    // Below a scalar, beyond a list's items, a structure's unknown member, a gap in a list.
    assert.equal(decodeError('Name.member.1=x').path, 'Name.member.1');
    assert.equal(decodeError('Tags.member.1.Colour=red').path, 'Tags.member.1.Colour');
    assert.equal(decodeError('Ids.member.1=a&Ids.member.3=c').path, 'Ids.member.3');
    assert.equal(decodeError('Ids.member.0=a').path, 'Ids.member.0');
    assert.equal(decodeError('Ids.1=a').path, 'Ids.1');
    assert.equal(decodeError('Attrs.entry.1.value=1').path, 'Attrs.entry.1.value');
    // A very long name is cut short in the message.
    assert.equal(decodeError(`${'X'.repeat(500)}=1`).message, `Unknown parameter: ${'X'.repeat(100)}`);
  });

  test('an operation without an input shape takes no parameters but Action and Version', () => {
    assert.deepEqual(decodeQuery(SHAPES, undefined, form('Action=List&Version=1')), {});
    assert.deepEqual(decodeQuery(SHAPES, 'Empty', form('Action=List&Version=1')), {});
    assert.throws(() => decodeQuery(SHAPES, 'Empty', form('Action=List&Version=1&Extra=1')), QueryDecodeError);
  });

  test('a repeated parameter counts once: the first value', () => {
    assert.deepEqual(decode('Name=first&Name=second'), { Name: 'first' });
  });

  test('IAM\'s real shapes: CreateUser with tags, CreateOpenIDConnectProvider with client ids', () => {
    const user = decodeQuery(IAM_SHAPES, 'CreateUserRequest', form('Action=CreateUser&Version=2010-05-08&UserName=bob&Path=%2Fteam%2F&Tags.member.1.Key=team&Tags.member.1.Value=blue'));
    assert.deepEqual(user, { UserName: 'bob', Path: '/team/', Tags: [{ Key: 'team', Value: 'blue' }] });
    const oidc = decodeQuery(IAM_SHAPES, 'CreateOpenIDConnectProviderRequest', form('Url=https%3A%2F%2Fissuer&ClientIDList.member.1=a&ClientIDList.member.2=b&ThumbprintList='));
    assert.deepEqual(oidc, { Url: 'https://issuer', ClientIDList: ['a', 'b'], ThumbprintList: [] });
    assert.equal(decodeQuery(IAM_SHAPES, 'ListUsersRequest', form('MaxItems=10')).MaxItems, 10);
  });
});

describe('encodeQueryResponse', () => {
  test('a structure: members in model order, lists as <member>, maps as <entry>, scalars as text, under the result wrapper', () => {
    const xml = encodeQueryResponse(
      SHAPES,
      { output: 'Output', resultWrapper: 'DoResult' },
      'Do',
      NS,
      {
        Renamed: 'r',
        Ids: ['a', 'b'],
        Name: 'n',
        Count: 3,
        Ratio: 0.5,
        Flag: false,
        When: Date.UTC(2024, 1, 3, 4, 5, 6) / 1000,
        Tags: [{ Key: 'k', Value: 'v' }],
        Attrs: { one: 1 },
        Nested: { Inner: ['x'], Deep: { Key: 'dk', Value: 'dv' }, On: true },
      },
      'req-1',
    );
    assert.equal(
      xml,
      `${XML_HEAD}<DoResponse xmlns="${NS}"><DoResult>` +
        '<Name>n</Name><Count>3</Count><Ratio>0.5</Ratio><Flag>false</Flag><When>2024-02-03T04:05:06Z</When>' +
        '<Tags><member><Key>k</Key><Value>v</Value></member></Tags><Ids><member>a</member><member>b</member></Ids>' +
        '<Attrs><entry><key>one</key><value>1</value></entry></Attrs>' +
        '<Nested><Inner><member>x</member></Inner><Deep><Key>dk</Key><Value>dv</Value></Deep><On>true</On></Nested>' +
        '<OtherName>r</OtherName>' +
        '</DoResult><ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></DoResponse>\n',
    );
  });

  test('empty lists are empty elements; undefined and null members are left out', () => {
    const xml = encodeQueryResponse(SHAPES, { output: 'Output' }, 'List', NS, { Ids: [], Tags: [], Name: undefined, Count: null }, 'r');
    assert.equal(xml, `${XML_HEAD}<ListResponse xmlns="${NS}"><ListResult><Tags></Tags><Ids></Ids></ListResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></ListResponse>\n`);
  });

  test('timestamps: ISO 8601 in UTC, milliseconds only when there are some', () => {
    const at = (When: number): string => /<When>([^<]*)<\/When>/.exec(encodeQueryResponse(SHAPES, { output: 'Output' }, 'T', NS, { When }, 'r'))?.[1] ?? '';
    assert.equal(at(0), '1970-01-01T00:00:00Z');
    assert.equal(at(1700000000), '2023-11-14T22:13:20Z');
    assert.equal(at(1700000000.123), '2023-11-14T22:13:20.123Z');
  });

  test('text is escaped: markup characters, quotes, carriage returns; characters XML cannot carry become U+FFFD', () => {
    const xml = encodeQueryResponse(SHAPES, { output: 'Output' }, 'E', NS, { Name: `<a href="x">&'\r\n</a>`, Attrs: { 'k<&>': 1 }, Ids: ['\u0001\u0000ok\uD800'] }, 'id&1');
    assert.ok(xml.includes('<Name>&lt;a href=&quot;x&quot;&gt;&amp;&apos;&#13;\n&lt;/a&gt;</Name>'), xml);
    assert.ok(xml.includes('<entry><key>k&lt;&amp;&gt;</key>'), xml);
    assert.ok(xml.includes('<member>\uFFFD\uFFFDok\uFFFD</member>'), xml);
    assert.ok(xml.includes('<RequestId>id&amp;1</RequestId>'), xml);
  });

  test('an operation without output answers only its ResponseMetadata; without a result wrapper, <Action>Result', () => {
    assert.equal(encodeQueryResponse(SHAPES, {}, 'DeleteThing', NS, undefined, 'r9'), `${XML_HEAD}<DeleteThingResponse xmlns="${NS}"><ResponseMetadata><RequestId>r9</RequestId></ResponseMetadata></DeleteThingResponse>\n`);
    assert.equal(encodeQueryResponse(SHAPES, { output: 'Output' }, 'Get', NS, undefined, 'r'), `${XML_HEAD}<GetResponse xmlns="${NS}"><GetResult></GetResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></GetResponse>\n`);
  });
});

describe('encodeQueryError and escapeXml', () => {
  test('the error document: Type, Code, Message (escaped) and RequestId', () => {
    assert.equal(
      encodeQueryError(NS, 'Sender', 'ValidationError', "Value 'a<b' at 'userName' failed", 'rid'),
      `${XML_HEAD}<ErrorResponse xmlns="${NS}"><Error><Type>Sender</Type><Code>ValidationError</Code><Message>Value &apos;a&lt;b&apos; at &apos;userName&apos; failed</Message></Error><RequestId>rid</RequestId></ErrorResponse>\n`,
    );
    assert.match(encodeQueryError(NS, 'Receiver', 'InternalFailure', 'boom', 'r'), /<Type>Receiver<\/Type><Code>InternalFailure<\/Code>/);
  });

  test('escapeXml: the five markup characters and CR as references; valid surrogate pairs and non-ASCII text kept', () => {
    assert.equal(escapeXml(`<>&"'`), '&lt;&gt;&amp;&quot;&apos;');
    assert.equal(escapeXml('a\r\n\tb'), 'a&#13;\n\tb');
    assert.equal(escapeXml('héllo 😀 ✓'), 'héllo 😀 ✓');
    assert.equal(escapeXml('\u0008\u000B\u000C\u001F\uFFFE\uFFFF\uDC00x\uD800'), '\uFFFD'.repeat(7) + 'x\uFFFD');
    assert.equal(escapeXml('&amp;'), '&amp;amp;', 'escaped once, not interpreted');
  });
});
