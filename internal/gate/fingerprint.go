package gate

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"

	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/sm4"

	"shuqiao/internal/privacy/mask"
)

// Fingerprints (R-SHR-5). A field the masking policy pseudonymises is not
// given the platform-wide pseudonym but a grant-specific one that carries a
// keyed tag:
//
//	pseudonym = hex(F(k_grant, value))[:24] ‖ hex(E(k_tag, prefix))[:8]
//
// F is the grant's pseudonym PRF (its PseudonymScheme): CMAC over AES-128,
// or over SM4 when the platform runs on the SM suite, for grants made since
// scheme 2; HMAC-SHA256 (HMAC-SM3) for grants made before, whose recipients
// keep the pseudonyms they already hold. k_grant and k_tag =
// HMAC(k_trace, "tag" ‖ grant id)[:16] are derived from the platform secret;
// E is one block of AES-128 (SM4) over the 12 bytes of the prefix. A block
// cipher is a PRF as good as HMAC here and costs a tenth of it, and both
// are computed for every pseudonymised cell of every delivery. The
// pseudonym still stands for exactly one value (equal values stay equal
// inside one grant's deliveries, so joins and counts inside the recipient's
// data hold), but two recipients get unlinkable pseudonyms and every single
// pseudonym names its grant: whoever holds the trace key can tell, from any
// one cell, which grant it was delivered under. The tag does not depend on
// F, so tracing reads files of both schemes. Values an official decision
// could rest on (general data, dates, codes, amounts) are never changed. The
// tag survives re-ordering of rows and columns, CSV ↔ XLSX re-encoding and
// keeping any subset of rows, as long as one pseudonymised cell is left. See
// docs/gate.md.

const (
	pseudoPrefix = 24 // hex digits of the keyed value hash
	pseudoTag    = 8  // hex digits of the grant tag
	pseudoLen    = pseudoPrefix + pseudoTag
)

// Pseudonym schemes: a grant keeps the one it was made with, so the
// pseudonyms its recipient holds stay the same from one delivery to the
// next.
const (
	// PseudonymHMAC is HMAC-SHA256 (HMAC-SM3) of the value: grants made
	// before scheme 2.
	PseudonymHMAC = 1
	// PseudonymCMAC is CMAC-AES-128 (CMAC-SM4) of the value.
	PseudonymCMAC = 2
)

// fingerprinter is used by one delivery at a time (not concurrently).
type fingerprinter struct {
	m   hash.Hash // PseudonymHMAC, or
	c   *cmac     // PseudonymCMAC
	tag cipher.Block
	// Scratch space kept here: slices passed through the hash.Hash and
	// cipher.Block interfaces would escape to the heap on every cell.
	sum     [64]byte
	mac     [16]byte
	in, enc [16]byte
	out     [pseudoLen]byte
	val     []byte
}

// grantKeys are a grant's expanded pseudonym keys, kept so that a delivery
// does not derive them and expand two block cipher keys again.
type grantKeys struct {
	tag    cipher.Block
	value  cipher.Block // PseudonymCMAC
	k1, k2 [16]byte
}

type grantKeyID struct {
	grant  string
	scheme int
}

// maxGrantKeys bounds the cache of expanded keys; it is emptied when full.
const maxGrantKeys = 4096

func (s *Service) grantKeys(grantID string, scheme int) *grantKeys {
	s.fpMu.Lock()
	defer s.fpMu.Unlock()
	id := grantKeyID{grantID, scheme}
	if k, ok := s.fpKeys[id]; ok {
		return k
	}
	k := &grantKeys{tag: tagCipher(s.traceKey, s.opts.MaskAlgorithm, grantID)}
	if scheme == PseudonymCMAC {
		k.value = blockCipher(s.opts.MaskAlgorithm, derive(s.pseudKey, "cmac\x00"+grantID)[:16])
		c := newCMAC(k.value)
		k.k1, k.k2 = c.k1, c.k2
	}
	if len(s.fpKeys) >= maxGrantKeys {
		clear(s.fpKeys)
	}
	s.fpKeys[id] = k
	return k
}

func (s *Service) fingerprinter(g *Grant) *fingerprinter {
	k := s.grantKeys(g.ID, g.PseudonymScheme)
	f := &fingerprinter{tag: k.tag}
	if g.PseudonymScheme == PseudonymCMAC {
		f.c = &cmac{b: k.value, k1: k.k1, k2: k.k2}
		return f
	}
	newHash := sha256.New
	if s.opts.MaskAlgorithm == mask.HMACSM3 {
		newHash = sm3.New
	}
	f.m = hmac.New(newHash, derive(s.pseudKey, g.ID))
	return f
}

// tagCipher is the grant's tag PRF.
func tagCipher(trace []byte, alg mask.Algorithm, grantID string) cipher.Block {
	return blockCipher(alg, derive(trace, "tag\x00"+grantID)[:16])
}

// blockCipher is AES-128, or SM4 on the SM suite, keyed with k (16 bytes).
func blockCipher(alg mask.Algorithm, k []byte) cipher.Block {
	if alg == mask.HMACSM3 {
		b, err := sm4.NewCipher(k)
		if err != nil {
			panic(err) // a 16-byte key never fails
		}
		return b
	}
	b, err := aes.NewCipher(k)
	if err != nil {
		panic(err)
	}
	return b
}

// tag writes to dst the 8 hex digits of the tag of the prefix whose 12
// bytes begin in (the rest of in is zero), using enc as scratch.
func tag(b cipher.Block, dst []byte, in, enc *[16]byte) {
	b.Encrypt(enc[:], in[:])
	hex.Encode(dst, enc[:pseudoTag/2])
}

// Apply returns the tagged pseudonym of v.
func (f *fingerprinter) Apply(v string) string {
	if f.c != nil {
		f.c.sum(&f.mac, v)
		copy(f.in[:pseudoPrefix/2], f.mac[:])
	} else {
		f.m.Reset()
		f.val = append(f.val[:0], v...)
		f.m.Write(f.val)
		copy(f.in[:pseudoPrefix/2], f.m.Sum(f.sum[:0]))
	}
	hex.Encode(f.out[:pseudoPrefix], f.in[:pseudoPrefix/2])
	tag(f.tag, f.out[pseudoPrefix:], &f.in, &f.enc)
	return string(f.out[:])
}

// tagMatches reports whether token (a 32-hex pseudonym) was made for the
// grant whose tag cipher is b.
func tagMatches(b cipher.Block, token string) bool {
	if len(token) != pseudoLen {
		return false
	}
	var want [pseudoTag]byte
	var in, enc [16]byte
	if _, err := hex.Decode(in[:pseudoPrefix/2], []byte(token[:pseudoPrefix])); err != nil {
		return false
	}
	tag(b, want[:], &in, &enc)
	return hmac.Equal(want[:], []byte(token[pseudoPrefix:]))
}

func isPseudonymToken(s string) bool {
	if len(s) != pseudoLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
