#!/usr/bin/env node
// Checks that the zh-CN and en locale files have the same keys and the same {placeholders}
// per key, that no message is empty, and that every literal key used as t('…') in src/
// exists. Exits 1 and lists each problem when any check fails.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const localeDir = join(root, 'src', 'i18n', 'locales');
const locales = ['zh-CN', 'en'];

function flatten(value, prefix, out) {
  for (const [key, child] of Object.entries(value)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (child !== null && typeof child === 'object') {
      flatten(child, path, out);
    } else {
      out.set(path, child);
    }
  }
  return out;
}

function placeholders(message) {
  return [...String(message).matchAll(/\{\s*(\w+)\s*\}/g)].map((match) => match[1]).sort().join(',');
}

function sourceFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.(vue|ts)$/.test(name) ? [path] : [];
  });
}

const problems = [];
const messages = new Map(
  locales.map((locale) => {
    const file = join(localeDir, `${locale}.json`);
    return [locale, flatten(JSON.parse(readFileSync(file, 'utf8')), '', new Map())];
  }),
);

const [first, second] = locales;
for (const [a, b] of [[first, second], [second, first]]) {
  for (const key of messages.get(a).keys()) {
    if (!messages.get(b).has(key)) problems.push(`key "${key}" is in ${a}.json but missing from ${b}.json`);
  }
}
for (const locale of locales) {
  for (const [key, message] of messages.get(locale)) {
    if (typeof message !== 'string' || message.trim() === '') {
      problems.push(`key "${key}" in ${locale}.json is empty or not a string`);
    }
  }
}
for (const [key, message] of messages.get(first)) {
  const other = messages.get(second).get(key);
  if (other !== undefined && placeholders(message) !== placeholders(other)) {
    problems.push(`key "${key}" has placeholders {${placeholders(message)}} in ${first}.json but {${placeholders(other)}} in ${second}.json`);
  }
}

// Literal keys only: t('meeting.leave'), $t("chat.send"), i18n.global.t('…').
const keyPattern = /\bt\(\s*['"]([A-Za-z0-9_.-]+)['"]/g;
let usedKeys = 0;
for (const file of sourceFiles(join(root, 'src'))) {
  const text = readFileSync(file, 'utf8');
  for (const match of text.matchAll(keyPattern)) {
    usedKeys += 1;
    if (!messages.get(first).has(match[1])) {
      problems.push(`${relative(root, file)} uses key "${match[1]}", which is not in the locale files`);
    }
  }
}

if (problems.length > 0) {
  for (const problem of problems) console.error(`check-i18n: ${problem}`);
  console.error(`check-i18n: ${problems.length} problem(s)`);
  process.exit(1);
}
console.log(`check-i18n: ${messages.get(first).size} keys match in ${locales.join(' and ')}; ${usedKeys} literal key uses found in src/`);
