// SM2 signature verification (GB/T 32918.2-2016) with SM3 (GB/T 32905-2016),
// in plain TypeScript with BigInt: WebCrypto has neither, and one function
// does not justify a crypto library (decision 0083 keeps the app free of
// them). It checks what internal/ledger/sm2note.go signs: an ASN.1 DER
// (r, s) over SM3(Z_A ‖ M), Z_A computed with the default user id
// "1234567812345678" (emmansun/gmsm's sm2.Sign with forceZA).
//
// Only verification: no secrets are handled, so constant time does not
// matter here.

type Bytes = Uint8Array<ArrayBuffer>;

// ---- SM3 ----

const IV = [0x7380166f, 0x4914b2b9, 0x172442d7, 0xda8a0600, 0xa96f30bc, 0x163138aa, 0xe38dee4d, 0xb0fb0e4e];

const rotl = (x: number, n: number) => ((x << (n & 31)) | (x >>> ((32 - (n & 31)) & 31))) >>> 0;
const p0 = (x: number) => (x ^ rotl(x, 9) ^ rotl(x, 17)) >>> 0;
const p1 = (x: number) => (x ^ rotl(x, 15) ^ rotl(x, 23)) >>> 0;

/** sm3 hashes the concatenation of parts (GB/T 32905-2016). */
export function sm3(...parts: Uint8Array[]): Bytes {
  const len = parts.reduce((a, p) => a + p.length, 0);
  // Padding: 0x80, zeros, then the bit length as 64 bits big-endian.
  const total = Math.ceil((len + 9) / 64) * 64;
  const m = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    m.set(p, o);
    o += p.length;
  }
  m[len] = 0x80;
  const dv = new DataView(m.buffer);
  dv.setUint32(total - 8, Math.floor(len / 0x20000000));
  dv.setUint32(total - 4, (len * 8) >>> 0);
  const v = IV.slice();
  const w = new Array<number>(68);
  const w1 = new Array<number>(64);
  for (let off = 0; off < total; off += 64) {
    for (let j = 0; j < 16; j++) w[j] = dv.getUint32(off + 4 * j);
    for (let j = 16; j < 68; j++) w[j] = (p1(w[j - 16] ^ w[j - 9] ^ rotl(w[j - 3], 15)) ^ rotl(w[j - 13], 7) ^ w[j - 6]) >>> 0;
    for (let j = 0; j < 64; j++) w1[j] = (w[j] ^ w[j + 4]) >>> 0;
    let [a, b, c, d, e, f, g, h] = v;
    for (let j = 0; j < 64; j++) {
      const t = j < 16 ? 0x79cc4519 : 0x7a879d8a;
      const a12 = rotl(a, 12);
      const ss1 = rotl((a12 + e + rotl(t, j % 32)) >>> 0, 7);
      const ss2 = (ss1 ^ a12) >>> 0;
      const ff = j < 16 ? a ^ b ^ c : (a & b) | (a & c) | (b & c);
      const gg = j < 16 ? e ^ f ^ g : (e & f) | (~e & g);
      const tt1 = ((ff >>> 0) + d + ss2 + w1[j]) >>> 0;
      const tt2 = ((gg >>> 0) + h + ss1 + w[j]) >>> 0;
      d = c;
      c = rotl(b, 9);
      b = a;
      a = tt1;
      h = g;
      g = rotl(f, 19);
      f = e;
      e = p0(tt2);
    }
    const next = [a, b, c, d, e, f, g, h];
    for (let i = 0; i < 8; i++) v[i] = (v[i] ^ next[i]) >>> 0;
  }
  const out = new Uint8Array(32);
  const odv = new DataView(out.buffer);
  v.forEach((x, i) => odv.setUint32(4 * i, x));
  return out;
}

// ---- the SM2 curve (GB/T 32918.5-2017, sm2p256v1) ----

const P = 0xfffffffeffffffffffffffffffffffffffffffff00000000ffffffffffffffffn;
const A = 0xfffffffeffffffffffffffffffffffffffffffff00000000fffffffffffffffcn;
const B = 0x28e9fa9e9d9f5e344d5a9e4bcf6509a7f39789f515ab8f92ddbcbd414d940e93n;
const N = 0xfffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123n;
const GX = 0x32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7n;
const GY = 0xbc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0n;

const mod = (x: bigint, m: bigint) => {
  const r = x % m;
  return r < 0n ? r + m : r;
};

function inv(x: bigint, m: bigint): bigint {
  // Extended Euclid.
  let [a, b] = [mod(x, m), m];
  let [u, v] = [1n, 0n];
  while (a !== 0n) {
    const q = b / a;
    [a, b] = [b - q * a, a];
    [u, v] = [v - q * u, u];
  }
  if (b !== 1n) throw new Error("not invertible");
  return mod(v, m);
}

// Jacobian coordinates (X, Y, Z) stand for (X/Z², Y/Z³); Z = 0 is infinity.
type Jac = [bigint, bigint, bigint];
const INF: Jac = [1n, 1n, 0n];

function dbl([x, y, z]: Jac): Jac {
  if (z === 0n || y === 0n) return INF;
  // a = -3: M = 3(X - Z²)(X + Z²).
  const zz = (z * z) % P;
  const m = mod(3n * (x - zz) * (x + zz), P);
  const yy = (y * y) % P;
  const s = (4n * x * yy) % P;
  const x3 = mod(m * m - 2n * s, P);
  const y3 = mod(m * (s - x3) - 8n * yy * yy, P);
  const z3 = (2n * y * z) % P;
  return [x3, y3, z3];
}

function add(p: Jac, q: Jac): Jac {
  if (p[2] === 0n) return q;
  if (q[2] === 0n) return p;
  const [x1, y1, z1] = p;
  const [x2, y2, z2] = q;
  const z1z1 = (z1 * z1) % P;
  const z2z2 = (z2 * z2) % P;
  const u1 = (x1 * z2z2) % P;
  const u2 = (x2 * z1z1) % P;
  const s1 = (y1 * z2 * z2z2) % P;
  const s2 = (y2 * z1 * z1z1) % P;
  if (u1 === u2) return s1 === s2 ? dbl(p) : INF;
  const h = mod(u2 - u1, P);
  const r = mod(s2 - s1, P);
  const hh = (h * h) % P;
  const hhh = (h * hh) % P;
  const v = (u1 * hh) % P;
  const x3 = mod(r * r - hhh - 2n * v, P);
  const y3 = mod(r * (v - x3) - s1 * hhh, P);
  const z3 = (z1 * z2 * h) % P;
  return [x3, y3, z3];
}

/** mul2 computes k1·G + k2·Q with one double-and-add pass (Shamir's trick). */
function mul2(k1: bigint, k2: bigint, q: Jac): Jac {
  const g: Jac = [GX, GY, 1n];
  const gq = add(g, q);
  let r = INF;
  const bits = Math.max(k1.toString(2).length, k2.toString(2).length);
  for (let i = bits - 1; i >= 0; i--) {
    r = dbl(r);
    const b1 = (k1 >> BigInt(i)) & 1n;
    const b2 = (k2 >> BigInt(i)) & 1n;
    if (b1 && b2) r = add(r, gq);
    else if (b1) r = add(r, g);
    else if (b2) r = add(r, q);
  }
  return r;
}

function affineX([x, , z]: Jac): bigint {
  const zi = inv(z, P);
  return (x * zi * zi) % P;
}

function onCurve(x: bigint, y: bigint): boolean {
  if (x < 0n || x >= P || y < 0n || y >= P) return false;
  return mod(y * y - (x * x * x + A * x + B), P) === 0n;
}

function toInt(b: Uint8Array): bigint {
  let x = 0n;
  for (const v of b) x = (x << 8n) | BigInt(v);
  return x;
}

function to32(x: bigint): Bytes {
  const out = new Uint8Array(32);
  for (let i = 31; i >= 0; i--) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return out;
}

/** parseDER reads an ASN.1 DER SEQUENCE of two INTEGERs (r, s); null if malformed. */
export function parseDER(sig: Uint8Array): [bigint, bigint] | null {
  let i = 0;
  const len = (): number => {
    if (i >= sig.length) return -1;
    const b = sig[i++];
    if (b < 0x80) return b;
    if (b !== 0x81 || i >= sig.length) return -1; // signatures are short
    return sig[i++];
  };
  if (sig[i++] !== 0x30) return null;
  if (len() !== sig.length - i) return null;
  const ints: bigint[] = [];
  for (let k = 0; k < 2; k++) {
    if (sig[i++] !== 0x02) return null;
    const n = len();
    if (n <= 0 || i + n > sig.length || n > 33) return null;
    if (sig[i] & 0x80) return null; // negative
    ints.push(toInt(sig.subarray(i, i + n)));
    i += n;
  }
  return i === sig.length ? [ints[0], ints[1]] : null;
}

/** DEFAULT_UID is the user id GB/T 32918 and GM/T 0009 default to. */
export const DEFAULT_UID = new TextEncoder().encode("1234567812345678");

/** za computes Z_A = SM3(ENTL ‖ ID ‖ a ‖ b ‖ xG ‖ yG ‖ xA ‖ yA). */
export function za(pubX: bigint, pubY: bigint, uid: Uint8Array = DEFAULT_UID): Bytes {
  const bits = uid.length * 8;
  return sm3(new Uint8Array([(bits >> 8) & 0xff, bits & 0xff]), uid, to32(A), to32(B), to32(GX), to32(GY), to32(pubX), to32(pubY));
}

/**
 * sm2Verify checks an ASN.1 DER SM2 signature of msg by the public key
 * given as the 65-byte uncompressed point 04 ‖ X ‖ Y.
 */
export function sm2Verify(pub: Uint8Array, msg: Uint8Array, sig: Uint8Array, uid: Uint8Array = DEFAULT_UID): boolean {
  if (pub.length !== 65 || pub[0] !== 0x04) return false;
  const px = toInt(pub.subarray(1, 33));
  const py = toInt(pub.subarray(33));
  if (!onCurve(px, py)) return false;
  const rs = parseDER(sig);
  if (!rs) return false;
  const [r, s] = rs;
  if (r < 1n || r >= N || s < 1n || s >= N) return false;
  const e = toInt(sm3(za(px, py, uid), msg));
  const t = (r + s) % N;
  if (t === 0n) return false;
  const pt = mul2(s, t, [px, py, 1n]);
  if (pt[2] === 0n) return false;
  return (e + affineX(pt)) % N === r;
}
