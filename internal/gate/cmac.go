package gate

import (
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
)

// cmac is CMAC (NIST SP 800-38B, RFC 4493) over a 128-bit block cipher:
// AES-128, or SM4 on the SM suite. It is the keyed pseudonym PRF of grants
// made since pseudonymCMAC: two block encryptions for an identifier of up
// to 32 bytes, where HMAC-SHA256 costs four compressions and the hash
// state's copies (a tenth of a governed call went to HMAC pseudonyms).
//
// A cmac is not safe for concurrent use: its scratch blocks are its own so
// that nothing escapes to the heap per cell. The cipher.Block may be shared.
type cmac struct {
	b      cipher.Block
	k1, k2 [16]byte
	x, y   [16]byte
}

func newCMAC(b cipher.Block) *cmac {
	if b.BlockSize() != 16 {
		panic("gate: cmac needs a 128-bit block cipher")
	}
	c := &cmac{b: b}
	var l [16]byte
	b.Encrypt(l[:], l[:])
	dbl(&c.k1, &l)
	dbl(&c.k2, &c.k1)
	return c
}

// dbl is multiplication by x in GF(2^128) (RFC 4493's subkey step).
func dbl(dst, src *[16]byte) {
	carry := src[0] >> 7
	for i := 0; i < 15; i++ {
		dst[i] = src[i]<<1 | src[i+1]>>7
	}
	dst[15] = src[15]<<1 ^ byte(subtle.ConstantTimeByteEq(carry, 1))*0x87
}

// sum writes the 16-byte tag of m to out.
func (c *cmac) sum(out *[16]byte, m string) {
	clear(c.x[:])
	// All blocks but the last are chained as they are.
	for len(m) > 16 {
		copy(c.y[:], m[:16])
		xor16(&c.y, &c.x)
		c.b.Encrypt(c.x[:], c.y[:])
		m = m[16:]
	}
	// The last block: whole, masked by k1; or padded 10*, masked by k2.
	clear(c.y[:])
	k := &c.k1
	if n := copy(c.y[:], m); n < 16 {
		c.y[n] = 0x80
		k = &c.k2
	}
	xor16(&c.y, &c.x)
	xor16(&c.y, k)
	c.b.Encrypt(out[:], c.y[:])
}

func xor16(dst, src *[16]byte) {
	binary.LittleEndian.PutUint64(dst[:8], binary.LittleEndian.Uint64(dst[:8])^binary.LittleEndian.Uint64(src[:8]))
	binary.LittleEndian.PutUint64(dst[8:], binary.LittleEndian.Uint64(dst[8:])^binary.LittleEndian.Uint64(src[8:]))
}
