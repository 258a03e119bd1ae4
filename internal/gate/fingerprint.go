package gate

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"

	"github.com/emmansun/gmsm/sm3"

	"shuqiao/internal/privacy/mask"
)

// Fingerprints (R-SHR-5). A field the masking policy pseudonymises is not
// given the platform-wide pseudonym but a grant-specific one that carries a
// keyed tag:
//
//	pseudonym = hex(HMAC(k_grant, value))[:24] ‖ hex(HMAC(k_trace, grant_id ‖ prefix))[:8]
//
// k_grant = HMAC(secret, "gate/pseudonym" ‖ grant id) and k_trace are derived
// from the platform secret. The pseudonym still stands for exactly one value
// (equal values stay equal inside one delivery, so joins and counts inside
// the recipient's data hold), but two recipients get unlinkable pseudonyms
// and every single pseudonym names its grant: whoever holds the trace key
// can tell, from any one cell, which grant it was delivered under. Values an
// official decision could rest on (general data, dates, codes, amounts) are
// never changed. The tag survives re-ordering of rows and columns, CSV ↔
// XLSX re-encoding and keeping any subset of rows, as long as one
// pseudonymised cell is left. See docs/gate.md.

const (
	pseudoPrefix = 24 // hex digits of the keyed value hash
	pseudoTag    = 8  // hex digits of the grant tag
	pseudoLen    = pseudoPrefix + pseudoTag
)

// fingerprinter is used by one delivery at a time (not concurrently).
type fingerprinter struct {
	alg     mask.Algorithm
	grantID string
	gid0    []byte // grantID ‖ 0
	key     []byte
	trace   []byte
	m, t    hash.Hash
	buf     [64]byte
}

func (s *Service) fingerprinter(grantID string) *fingerprinter {
	f := &fingerprinter{alg: s.opts.MaskAlgorithm, grantID: grantID, gid0: append([]byte(grantID), 0), key: derive(s.pseudKey, grantID), trace: s.traceKey}
	f.m = hmac.New(f.newHash(), f.key)
	f.t = hmac.New(sha256.New, f.trace)
	return f
}

func (f *fingerprinter) newHash() func() hash.Hash {
	if f.alg == mask.HMACSM3 {
		return sm3.New
	}
	return sha256.New
}

// Apply returns the tagged pseudonym of v.
func (f *fingerprinter) Apply(v string) string {
	f.m.Reset()
	io.WriteString(f.m, v)
	var sum [64]byte
	prefix := hex.AppendEncode(f.buf[:0], f.m.Sum(sum[:0]))[:pseudoPrefix]
	f.t.Reset()
	f.t.Write(f.gid0)
	f.t.Write(prefix)
	var out [pseudoLen]byte
	copy(out[:], prefix)
	hex.Encode(out[pseudoPrefix:], f.t.Sum(sum[:0])[:pseudoTag/2])
	return string(out[:])
}

func tagOf(trace []byte, grantID string, prefix []byte) string {
	m := hmac.New(sha256.New, trace)
	m.Write([]byte(grantID))
	m.Write([]byte{0})
	m.Write(prefix)
	return hex.EncodeToString(m.Sum(nil))[:pseudoTag]
}

// tagMatches reports whether token (a 32-hex pseudonym) was made for grantID.
func tagMatches(trace []byte, grantID, token string) bool {
	if len(token) != pseudoLen {
		return false
	}
	return hmac.Equal([]byte(tagOf(trace, grantID, []byte(token[:pseudoPrefix]))), []byte(token[pseudoPrefix:]))
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
