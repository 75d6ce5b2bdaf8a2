// Parses every AsyncAPI document in docs/asyncapi/ (or the files named on the command line)
// with the official parser, prints its diagnostics and exits 1 when one of them is an error.
//   node infra/asyncapi/validate.mjs [FILE...]
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import parserModule from '@asyncapi/parser';

const { Parser, fromFile, DiagnosticSeverity } = parserModule;

const here = path.dirname(fileURLToPath(import.meta.url));
const docDir = path.resolve(here, '..', '..', 'docs', 'asyncapi');
const SEVERITY = ['error', 'warning', 'info', 'hint'];

async function documents() {
  const named = process.argv.slice(2);
  if (named.length > 0) {
    return named.map((file) => path.resolve(file));
  }
  const names = await readdir(docDir);
  return names
    .filter((name) => /\.(json|ya?ml)$/.test(name))
    .sort()
    .map((name) => path.join(docDir, name));
}

function where(diagnostic) {
  const at = diagnostic.path && diagnostic.path.length > 0 ? diagnostic.path.join('/') : '(root)';
  const line = diagnostic.range ? `:${diagnostic.range.start.line + 1}` : '';
  return `${line} ${at}`;
}

async function main() {
  const files = await documents();
  if (files.length === 0) {
    console.error(`no AsyncAPI document found in ${docDir}`);
    return 1;
  }
  const parser = new Parser();
  let failed = 0;
  for (const file of files) {
    const relative = path.relative(process.cwd(), file);
    const { document, diagnostics } = await fromFile(parser, file).parse();
    const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error);
    for (const d of diagnostics) {
      const level = SEVERITY[d.severity] ?? String(d.severity);
      if (d.severity <= DiagnosticSeverity.Warning) {
        console.log(`${relative}${where(d)}: ${level} [${d.code}] ${d.message}`);
      }
    }
    if (errors.length > 0 || document === undefined) {
      failed += 1;
      console.log(`${relative}: INVALID (${errors.length} error(s))`);
    } else {
      const channels = document.channels().length;
      const operations = document.operations().length;
      const messages = document.components().messages().length;
      console.log(
        `${relative}: valid AsyncAPI ${document.version()} ` +
          `(${channels} channels, ${operations} operations, ${messages} messages)`,
      );
    }
  }
  console.log(`${files.length - failed} valid, ${failed} invalid`);
  return failed === 0 ? 0 : 1;
}

process.exitCode = await main();
