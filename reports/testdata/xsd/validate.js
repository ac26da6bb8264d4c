// Validates an XML file against an XML Schema with libxml2 (xmllint-wasm),
// for reports/junit_test.go. No network, no native libxml2 needed.
//
//   node validate.js SCHEMA.xsd DOCUMENT.xml
//
// Exit status: 0 valid; 1 invalid, with libxml2's messages on stderr;
// 2 usage or I/O error.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { validateXML } = require('xmllint-wasm');

async function main(argv) {
  if (argv.length !== 2) {
    console.error('usage: node validate.js SCHEMA.xsd DOCUMENT.xml');
    return 2;
  }
  const [schemaPath, xmlPath] = argv;
  let schema, xml;
  try {
    schema = fs.readFileSync(schemaPath, 'utf8');
    xml = fs.readFileSync(xmlPath, 'utf8');
  } catch (err) {
    console.error(`validate.js: ${err.message}`);
    return 2;
  }
  const result = await validateXML({
    xml: [{ fileName: path.basename(xmlPath), contents: xml }],
    schema: [{ fileName: path.basename(schemaPath), contents: schema }],
  });
  if (result.valid) {
    console.log(`${xmlPath}: valid against ${schemaPath}`);
    return 0;
  }
  const out = result.rawOutput.trim() ||
    result.errors.map((e) => e.rawMessage).join('\n') ||
    'invalid (libxml2 gave no message)';
  console.error(out);
  return 1;
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => { console.error(`validate.js: ${err && err.stack || err}`); process.exitCode = 2; },
);
