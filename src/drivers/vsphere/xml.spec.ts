import assert from 'node:assert/strict';
import { test } from 'node:test';
import { child, children, escapeXml, find, parseXml, textOf, xsiType } from './xml.js';

test('reads a SOAP answer: namespaces dropped, attributes, entities, xsi:type', () => {
  const doc = parseXml(
    '<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="x"><soapenv:Body>' +
      '<R xmlns="urn:vim25"><returnval type="Task">task-1</returnval>' +
      '<val xsi:type="ArrayOfString"><string>a &amp; b</string><string>&#60;c&#x3e;</string></val>' +
      '<empty/></R></soapenv:Body></soapenv:Envelope>',
  );
  const r = find(doc, 'R');
  assert.equal(child(r, 'returnval')?.attrs.type, 'Task');
  assert.equal(textOf(r, 'returnval'), 'task-1');
  assert.equal(xsiType(child(r, 'val')), 'ArrayOfString');
  assert.deepEqual(
    children(child(r, 'val'), 'string').map((s) => textOf(s)),
    ['a & b', '<c>'],
  );
  assert.equal(textOf(r, 'empty'), '');
});

test('malformed XML is an error, and escaping round-trips', () => {
  assert.throws(() => parseXml('<a><b></a>'), /malformed/);
  assert.throws(() => parseXml('<a>'), /not closed/);
  const s = `<x a="1"> & 'y'`;
  assert.equal(textOf(find(parseXml(`<t>${escapeXml(s)}</t>`), 't')), s.trim());
});
