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
//	pseudonym = hex(HMAC(k_grant, value))[:24] ‖ hex(E(k_tag, prefix))[:8]
//
// k_grant = HMAC(secret, "gate/pseudonym" ‖ grant id) and k_tag =
// HMAC(k_trace, "tag" ‖ grant id)[:16] are derived from the platform secret;
// E is one block of AES-128, or of SM4 when the platform runs on the SM
// suite (HMAC-SM3), over the 12 bytes of the prefix. A block cipher is a
// PRF as good as a second HMAC here and costs a tenth of it, and the tag is
// computed for every pseudonymised cell of every delivery. The pseudonym
// still stands for exactly one value (equal values stay equal inside one
// delivery, so joins and counts inside the recipient's data hold), but two
// recipients get unlinkable pseudonyms and every single pseudonym names its
// grant: whoever holds the trace key can tell, from any one cell, which
// grant it was delivered under. Values an official decision could rest on
// (general data, dates, codes, amounts) are never changed. The tag survives
// re-ordering of rows and columns, CSV ↔ XLSX re-encoding and keeping any
// subset of rows, as long as one pseudonymised cell is left. See
// docs/gate.md.

const (
	pseudoPrefix = 24 // hex digits of the keyed value hash
	pseudoTag    = 8  // hex digits of the grant tag
	pseudoLen    = pseudoPrefix + pseudoTag
)

// fingerprinter is used by one delivery at a time (not concurrently).
type fingerprinter struct {
	m   hash.Hash
	tag cipher.Block
	// Scratch space kept here: slices passed through the hash.Hash and
	// cipher.Block interfaces would escape to the heap on every cell.
	sum     [64]byte
	in, enc [16]byte
	out     [pseudoLen]byte
	val     []byte
}

func (s *Service) fingerprinter(grantID string) *fingerprinter {
	newHash := sha256.New
	if s.opts.MaskAlgorithm == mask.HMACSM3 {
		newHash = sm3.New
	}
	return &fingerprinter{m: hmac.New(newHash, derive(s.pseudKey, grantID)), tag: tagCipher(s.traceKey, s.opts.MaskAlgorithm, grantID)}
}

// tagCipher is the grant's tag PRF.
func tagCipher(trace []byte, alg mask.Algorithm, grantID string) cipher.Block {
	k := derive(trace, "tag\x00"+grantID)[:16]
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

// tag writes the 8 hex digits of prefix's tag (prefix: 24 hex digits) to
// dst, using in and enc as scratch blocks.
func tag(b cipher.Block, dst, prefix []byte, in, enc *[16]byte) {
	clear(in[:])
	_, _ = hex.Decode(in[:pseudoPrefix/2], prefix)
	b.Encrypt(enc[:], in[:])
	hex.Encode(dst, enc[:pseudoTag/2])
}

// Apply returns the tagged pseudonym of v.
func (f *fingerprinter) Apply(v string) string {
	f.m.Reset()
	f.val = append(f.val[:0], v...)
	f.m.Write(f.val)
	hex.Encode(f.out[:pseudoPrefix], f.m.Sum(f.sum[:0])[:pseudoPrefix/2])
	tag(f.tag, f.out[pseudoPrefix:], f.out[:pseudoPrefix], &f.in, &f.enc)
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
	tag(b, want[:], []byte(token[:pseudoPrefix]), &in, &enc)
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
