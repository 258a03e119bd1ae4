// SM2/SM3 verification in the browser's code (src/lib/sm2.ts, merkle.ts),
// checked against the ledger's own Go signers: `go run ./web/test/sm2vectors`
// signs checkpoints with a fresh SM2 key (and an Ed25519 one), and the
// TypeScript must accept each and reject every tampering. R-SEC-13 (tamper
// evidence), decision 0022 (SM2 checkpoints).
//
// Run: cd web && node --test test/   (needs Go; TypeScript is compiled with
// the typescript package the build already uses, no new dependency).
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import ts from "typescript";

const web = resolve(new URL("..", import.meta.url).pathname);
const repo = resolve(web, "..");
let sm2, merkle, vectors;

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), "shuqiao-sm2-"));
  for (const name of ["sm2", "merkle"]) {
    const src = readFileSync(join(web, "src/lib", `${name}.ts`), "utf8");
    const js = ts.transpileModule(src, { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext } }).outputText;
    writeFileSync(join(dir, `${name}.mjs`), js.replace(/from "\.\/(\w+)"/g, 'from "./$1.mjs"'));
  }
  sm2 = await import(join(dir, "sm2.mjs"));
  merkle = await import(join(dir, "merkle.mjs"));
  rmSync(dir, { recursive: true, force: true });
  vectors = JSON.parse(execFileSync("go", ["run", "./web/test/sm2vectors"], { cwd: repo, encoding: "utf8" }));
});

const hex = (b) => Buffer.from(b).toString("hex");

test("SM3 matches the standard's examples (GB/T 32905-2016 appendix A)", () => {
  assert.equal(hex(sm2.sm3(new TextEncoder().encode("abc"))), "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0");
  assert.equal(hex(sm2.sm3(new TextEncoder().encode("abcd".repeat(16)))), "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732");
  assert.equal(hex(sm2.sm3(new Uint8Array(0))), "1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b");
});

test("checkpoints signed by the Go ledger verify; tampered ones do not", async () => {
  const algs = new Set(vectors.map((v) => v.alg));
  assert.deepEqual([...algs].sort(), ["ed25519", "sm2"]);
  for (const v of vectors) {
    const cp = merkle.parseCheckpoint(v.note);
    assert.equal(await merkle.verifySignature(cp, v.key), "valid", `${v.alg}: ${v.note}`);
    // A changed tree size.
    const lines = v.note.split("\n");
    lines[1] = String(Number(lines[1]) + 1);
    assert.equal(await merkle.verifySignature(merkle.parseCheckpoint(lines.join("\n")), v.key), "invalid", `${v.alg}: tampered size`);
    // A flipped signature bit.
    const bad = merkle.parseCheckpoint(v.note);
    bad.signatures[0].sig[bad.signatures[0].sig.length - 3] ^= 1;
    assert.equal(await merkle.verifySignature(bad, v.key), "invalid", `${v.alg}: tampered signature`);
    // Another key of the same name and algorithm.
    const other = vectors.find((w) => w.alg === v.alg && w.key !== v.key);
    if (other) assert.equal(await merkle.verifySignature(cp, other.key), "invalid");
  }
});

test("SM2 rejects malformed keys and signatures", () => {
  const v = vectors.find((x) => x.alg === "sm2");
  const cp = merkle.parseCheckpoint(v.note);
  const key = merkle.b64decode(v.key.split("+").slice(2).join("+"));
  const pub = key.slice(16);
  const msg = new TextEncoder().encode(cp.text);
  const sig = cp.signatures[0].sig;
  assert.equal(sm2.sm2Verify(pub, msg, sig), true);
  assert.equal(sm2.sm2Verify(pub, msg, sig, new TextEncoder().encode("another user id")), false, "Z_A binds the user id");
  const offCurve = pub.slice();
  offCurve[64] ^= 1;
  assert.equal(sm2.sm2Verify(offCurve, msg, sig), false, "a point off the curve");
  assert.equal(sm2.sm2Verify(pub, msg, sig.slice(0, sig.length - 1)), false, "truncated DER");
  assert.equal(sm2.sm2Verify(pub, msg, new Uint8Array([0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x01])), false, "r = 0");
  assert.equal(sm2.parseDER(new Uint8Array([0x31, 0x00])), null);
});
