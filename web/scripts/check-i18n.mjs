// Fails when the UI uses a string key that src/strings.ts lacks, or when an
// entry lacks its Chinese or English text. Run by `npm run build`.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const src = new URL("../src/", import.meta.url).pathname;
// The dictionary is src/strings.ts plus the per-area files it spreads in from src/strings/.
const dictText = [join(src, "strings.ts"), ...readdirSync(join(src, "strings")).map((f) => join(src, "strings", f))]
  .map((f) => readFileSync(f, "utf8"))
  .join("\n");
const entries = new Map();
for (const m of dictText.matchAll(/^\s*"([^"]+)":\s*\[\s*"((?:[^"\\]|\\.)*)",\s*"((?:[^"\\]|\\.)*)"\s*\]/gm)) {
  entries.set(m[1], [m[2], m[3]]);
}
// Entries may wrap onto several lines.
for (const m of dictText.matchAll(/^\s*"([^"]+)":\s*\[\s*\n\s*"((?:[^"\\]|\\.)*)",\s*\n\s*"((?:[^"\\]|\\.)*)",?\s*\n\s*\]/gm)) {
  entries.set(m[1], [m[2], m[3]]);
}
const problems = [];
for (const [k, [zh, en]] of entries) {
  if (!zh.trim() || !en.trim()) problems.push(`${k}: missing a language`);
}

function walk(dir) {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? walk(p) : /\.tsx?$/.test(f) && f !== "strings.ts" && !p.includes("/strings/") ? [p] : [];
  });
}
const used = new Set();
for (const file of walk(src)) {
  const text = readFileSync(file, "utf8");
  for (const m of text.matchAll(/\bt\("([a-zA-Z0-9_.]+)"/g)) used.add(m[1]);
  for (const m of text.matchAll(/\bk: "([a-zA-Z0-9_.]+)"/g)) used.add(m[1]);
}
for (const f of ["theme", "org", "open", "share", "level", "format", "frequency"]) used.add(`facet.${f}`);
for (const s of ["valid", "invalid"]) used.add(`ledger.sig.${s}`);
used.add("app.title");
for (const k of ["draft", "published", "withdrawn", "any"]) used.add(`catalog.tab.${k}`);
for (const k of ["match", "ask", "close"]) used.add(`demands.act.${k}`);
for (const k of used) if (!entries.has(k)) problems.push(`${k}: used but not in strings.ts`);

if (problems.length) {
  console.error("i18n check failed:\n  " + problems.join("\n  "));
  process.exit(1);
}
console.log(`i18n: ${entries.size} strings in Chinese and English, ${used.size} keys used, none missing`);
