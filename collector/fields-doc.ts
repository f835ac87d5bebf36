// docs/fields.md, generated from the field declaration (collector/fields.ts).
// `GENERATE=1 npx mocha --config .mocharc.dev.json test/collector/fields.test.ts`
// rewrites the file; the same test fails when it is out of date.
import { FIELDS, type FieldDecl } from './fields.js';

/** Where the generated table lives, relative to the repository root. */
export const FIELDS_DOC_PATH = 'docs/fields.md';

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function renderFieldsDoc(fields: readonly FieldDecl[] = FIELDS): string {
  const out = [
    '# Event fields',
    '',
    '<!-- Generated from collector/fields.ts by test/collector/fields.test.ts (GENERATE=1). Do not edit by hand. -->',
    '',
    'Every Umbra event is one JSON object with these fields (nested objects on the wire,',
    'dotted names here). The Elasticsearch index template is generated from the same',
    'declaration. *ECS*: yes for Elastic Common Schema fields, no for Umbra\'s own.',
    '*Set by*: the agent, or the collector (identity sources). A field that is absent',
    'in an event is omitted, never null. `[]`: the value may be an array.',
    '',
    '| field | type | ECS | set by | description | example |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const d of fields) {
    out.push(`| \`${d.name}\` | ${d.type}${d.array ? ' []' : ''} | ${d.ecs ? 'yes' : 'no'} | ${d.setBy ?? 'agent'} | ${cell(d.description)} | ${d.example ? `\`${cell(d.example)}\`` : ''} |`);
  }
  out.push('');
  return out.join('\n');
}
