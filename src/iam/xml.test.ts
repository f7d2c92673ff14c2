import { test } from 'node:test';
import assert from 'node:assert/strict';
import { element, escapeXml, queryError, queryResponse } from './xml.ts';

test('text is escaped; objects nest; arrays are lists of member; undefined is left out', () => {
  assert.equal(escapeXml(`<a href="x">&'</a>`), '&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;');
  assert.equal(element('User', { UserName: 'a&b', Path: '/', Tags: [{ Key: 'k', Value: '<v>' }], Missing: undefined, Count: 2 }), '<User><UserName>a&amp;b</UserName><Path>/</Path><Tags><member><Key>k</Key><Value>&lt;v&gt;</Value></member></Tags><Count>2</Count></User>');
  assert.equal(element('Empty', []), '<Empty></Empty>');
});

test('response and error documents', () => {
  assert.equal(queryResponse('GetCallerIdentity', 'urn:x', { Account: '1' }, 'r1'), '<?xml version="1.0" encoding="UTF-8"?>\n<GetCallerIdentityResponse xmlns="urn:x"><GetCallerIdentityResult><Account>1</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></GetCallerIdentityResponse>\n');
  assert.equal(queryError('urn:x', 'Sender', 'InvalidAction', 'no <such>', 'r2'), '<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="urn:x"><Error><Type>Sender</Type><Code>InvalidAction</Code><Message>no &lt;such&gt;</Message></Error><RequestId>r2</RequestId></ErrorResponse>\n');
});
