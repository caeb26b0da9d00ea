// Fails when the gzipped initial bundle (the JS and CSS that index.html
// loads before any lazy screen) exceeds the budget in docs/CONSOLE.md.
// Usage: npm run build && npm run size
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const dist = resolve(root, 'internal/console/dist');
const doc = readFileSync(resolve(root, 'docs/CONSOLE.md'), 'utf8');
const m = /Initial bundle budget:\s*\*{0,2}(\d+(?:\.\d+)?)\s*KiB gzipped/i.exec(doc);
if (!m) {
  console.error('docs/CONSOLE.md states no "Initial bundle budget: N KiB gzipped"');
  process.exit(1);
}
const budget = Number(m[1]) * 1024;

let html;
try {
  html = readFileSync(resolve(dist, 'index.html'), 'utf8');
} catch {
  console.error('internal/console/dist/index.html is missing: run npm run build first');
  process.exit(1);
}
const refs = new Set();
for (const tag of html.matchAll(/<(script|link)\b[^>]*>/g)) {
  const t = tag[0];
  if (/\bon\w+=/i.test(t)) {
    console.error(`index.html has an inline handler: ${t}`);
    process.exit(1);
  }
  const src = /\b(?:src|href)="([^"]+)"/.exec(t)?.[1];
  if (!src || !src.startsWith('/console/assets/')) continue;
  if (tag[1] === 'link' && !/rel="(stylesheet|modulepreload)"/.test(t)) continue;
  refs.add(src.slice('/console/'.length));
}
if (/<script(?![^>]*\bsrc=)[^>]*>/.test(html) || /<style\b/.test(html)) {
  console.error('index.html has an inline script or style, which the CSP forbids');
  process.exit(1);
}
let total = 0;
for (const ref of refs) {
  const gz = gzipSync(readFileSync(resolve(dist, ref)), { level: 9 }).length;
  total += gz;
  console.log(`${(gz / 1024).toFixed(1).padStart(8)} KiB  ${ref}`);
}
console.log(`${(total / 1024).toFixed(1).padStart(8)} KiB  initial total (budget ${(budget / 1024).toFixed(0)} KiB gzipped)`);
if (total > budget) {
  console.error(`initial bundle ${(total / 1024).toFixed(1)} KiB gzipped exceeds the budget of ${(budget / 1024).toFixed(0)} KiB`);
  process.exit(1);
}
