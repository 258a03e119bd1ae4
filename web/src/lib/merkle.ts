// Verifying a ledger entry in the browser, with WebCrypto only:
//  - the leaf hash is SHA-256(0x00 || entry bytes)          (RFC 6962 §2.1)
//  - the inclusion proof leads from it to the root hash    (RFC 9162 §2.1.3.2)
//  - the root is the one in the signed checkpoint, a C2SP signed note whose
//    Ed25519 (WebCrypto) or SM2-with-SM3 (./sm2.ts) signature is checked
//    against the verifier key the server names.
// Pin the verifier key the operator publishes: a server could name its own.

import { sm2Verify } from "./sm2";

type Bytes = Uint8Array<ArrayBuffer>;

/** SM2_TYPE is the key type of SM2 checkpoints, 0xff ‖ "shuqiao/sm2-sm3" (decision 0022). */
export const SM2_TYPE: Uint8Array = new Uint8Array([0xff, ...new TextEncoder().encode("shuqiao/sm2-sm3")]);

export function b64decode(s: string): Bytes {
  const bin = atob(s.trim());
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function b64encode(b: Uint8Array): string {
  let s = "";
  b.forEach((x) => (s += String.fromCharCode(x)));
  return btoa(s);
}

export function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function subtle(): SubtleCrypto {
  if (!globalThis.crypto?.subtle) {
    throw new Error("WebCrypto is unavailable: open the platform over HTTPS (or localhost)");
  }
  return globalThis.crypto.subtle;
}

async function sha256(...parts: Uint8Array[]): Promise<Bytes> {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const buf = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    buf.set(p, o);
    o += p.length;
  }
  return new Uint8Array(await subtle().digest("SHA-256", buf));
}

const LEAF = new Uint8Array([0]);
const NODE = new Uint8Array([1]);

export function leafHash(entry: Uint8Array): Promise<Bytes> {
  return sha256(LEAF, entry);
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** rootFromInclusion computes the root an inclusion proof leads to (RFC 9162 §2.1.3.2). */
export async function rootFromInclusion(index: number, size: number, leaf: Bytes, proof: Uint8Array[]): Promise<Bytes> {
  if (index < 0 || index >= size) throw new Error(`index ${index} is not in a tree of size ${size}`);
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) throw new Error("the proof is too long");
    if (fn % 2 === 1 || fn === sn) {
      r = await sha256(NODE, p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = await sha256(NODE, r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) throw new Error("the proof is too short");
  return r;
}

export interface Checkpoint {
  origin: string;
  size: number;
  root: Bytes;
  /** the signed text: the note up to and including its blank line's first newline */
  text: string;
  signatures: { name: string; keyHash: Bytes; sig: Bytes }[];
}

export function parseCheckpoint(note: string): Checkpoint {
  const cut = note.indexOf("\n\n");
  if (cut < 0) throw new Error("the checkpoint has no signature block");
  const text = note.slice(0, cut + 1);
  const lines = text.split("\n");
  if (lines.length < 4) throw new Error("the checkpoint is too short");
  const size = Number(lines[1]);
  if (!Number.isSafeInteger(size) || size < 0) throw new Error("bad tree size in checkpoint");
  const signatures = note
    .slice(cut + 2)
    .split("\n")
    .filter((l) => l.startsWith("— "))
    .map((l) => {
      const [, name, b64] = l.split(" ");
      const raw = b64decode(b64);
      return { name, keyHash: raw.slice(0, 4), sig: raw.slice(4) };
    });
  return { origin: lines[0], size, root: b64decode(lines[2]), text, signatures };
}

export type SigResult = "valid" | "invalid" | "unsupported";

/** keyAlgorithm names a verifier key's signature algorithm: "Ed25519", "SM2" or "". */
export function keyAlgorithm(verifierKey: string): string {
  try {
    const key = b64decode(verifierKey.split("+").slice(2).join("+"));
    if (key[0] === 1) return "Ed25519";
    if (key.length === SM2_TYPE.length + 65 && SM2_TYPE.every((b, j) => key[j] === b)) return "SM2";
  } catch {
    /* not base64 */
  }
  return "";
}

/** verifySignature checks the checkpoint's signature by the verifier key "name+hash+base64(alg||key)". */
export async function verifySignature(cp: Checkpoint, verifierKey: string): Promise<SigResult> {
  // name+hash+key: the base64 key may itself contain "+", so split twice only.
  const i = verifierKey.indexOf("+");
  const name = verifierKey.slice(0, i);
  const hashHex = verifierKey.slice(i + 1, i + 9);
  const keyB64 = verifierKey.slice(i + 10);
  if (i <= 0 || verifierKey[i + 9] !== "+" || !/^[0-9a-f]{8}$/.test(hashHex) || !keyB64) return "invalid";
  const key = b64decode(keyB64);
  const alg = key[0];
  const pub = key.slice(1);
  const sig = cp.signatures.find((s) => s.name === name && hex(s.keyHash) === hashHex);
  if (!sig) return "invalid";
  // The key hash binds name, algorithm and key (golang.org/x/mod/sumdb/note).
  const kh = await sha256(new TextEncoder().encode(name + "\n"), key);
  if (hex(kh.slice(0, 4)) !== hashHex) return "invalid";
  if (alg !== 1) {
    // Shuqiao's SM2 type: 0xff ‖ "shuqiao/sm2-sm3" ‖ the 65-byte point (internal/ledger/sm2note.go).
    const isSM2 = key.length === SM2_TYPE.length + 65 && SM2_TYPE.every((b, j) => key[j] === b);
    if (!isSM2) return "unsupported";
    return sm2Verify(key.slice(SM2_TYPE.length), new TextEncoder().encode(cp.text), sig.sig) ? "valid" : "invalid";
  }
  try {
    const k = await subtle().importKey("raw", pub, { name: "Ed25519" }, false, ["verify"]);
    const ok = await subtle().verify({ name: "Ed25519" }, k, sig.sig, new TextEncoder().encode(cp.text));
    return ok ? "valid" : "invalid";
  } catch {
    return "unsupported";
  }
}

export interface Verification {
  leafMatches: boolean;
  computedLeaf: string;
  computedRoot: string;
  checkpointRoot: string;
  rootMatches: boolean;
  signature: SigResult;
  treeSize: number;
}

/** verifyEntry checks entry bytes against an inclusion proof and its signed checkpoint. */
export async function verifyEntry(
  entry: Uint8Array,
  proof: { seq: number; tree_size: number; leaf_hash: string; hashes: string[] },
  checkpointNote: string,
  verifierKey: string,
): Promise<Verification> {
  const cp = parseCheckpoint(checkpointNote);
  const leaf = await leafHash(entry);
  const root = await rootFromInclusion(proof.seq, cp.size, leaf, proof.hashes.map(b64decode));
  return {
    leafMatches: equal(leaf, b64decode(proof.leaf_hash)),
    computedLeaf: hex(leaf),
    computedRoot: b64encode(root),
    checkpointRoot: b64encode(cp.root),
    rootMatches: equal(root, cp.root) && proof.tree_size === cp.size,
    signature: await verifySignature(cp, verifierKey),
    treeSize: cp.size,
  };
}
