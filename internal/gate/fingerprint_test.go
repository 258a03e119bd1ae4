package gate

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/emmansun/gmsm/sm4"

	"shuqiao/internal/gate/filter"
	"shuqiao/internal/store"
	"shuqiao/internal/store/storetest"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCMACVectors checks the pseudonym PRF against RFC 4493's examples
// (AES-128) and, for SM4 and random lengths, against a second, plainer
// reading of NIST SP 800-38B.
func TestCMACVectors(t *testing.T) {
	b, err := aes.NewCipher(unhex(t, "2b7e151628aed2a6abf7158809cf4f3c"))
	if err != nil {
		t.Fatal(err)
	}
	c := newCMAC(b)
	if got := hex.EncodeToString(c.k1[:]); got != "fbeed618357133667c85e08f7236a8de" {
		t.Errorf("K1 = %s", got)
	}
	if got := hex.EncodeToString(c.k2[:]); got != "f7ddac306ae266ccf90bc11ee46d513b" {
		t.Errorf("K2 = %s", got)
	}
	msg := unhex(t, "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710")
	for _, v := range []struct {
		n    int
		want string
	}{
		{0, "bb1d6929e95937287fa37d129b756746"},
		{16, "070a16b46b4d4144f79bdd9dd04a287c"},
		{40, "dfa66747de9ae63030ca32611497c827"},
		{64, "51f0bebf7e3b9d92fc49741779363cfe"},
	} {
		var out [16]byte
		c.sum(&out, string(msg[:v.n]))
		if got := hex.EncodeToString(out[:]); got != v.want {
			t.Errorf("CMAC-AES128 of %d bytes = %s, want %s", v.n, got, v.want)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, mk := range []func([]byte) (cipher.Block, error){aes.NewCipher, sm4.NewCipher} {
		key := make([]byte, 16)
		for i := range key {
			key[i] = byte(rng.Uint32())
		}
		b, err := mk(key)
		if err != nil {
			t.Fatal(err)
		}
		c := newCMAC(b)
		for n := 0; n < 70; n++ {
			m := make([]byte, n)
			for i := range m {
				m[i] = byte(rng.Uint32())
			}
			var out [16]byte
			c.sum(&out, string(m))
			if want := referenceCMAC(b, m); hex.EncodeToString(out[:]) != hex.EncodeToString(want) {
				t.Fatalf("%T CMAC of %d bytes differs from the reference", b, n)
			}
		}
	}
}

// referenceCMAC is SP 800-38B read literally: subkeys by shift and
// conditional XOR of R128, padding 10*, CBC-MAC.
func referenceCMAC(b cipher.Block, m []byte) []byte {
	shift := func(x []byte) []byte {
		out := make([]byte, 16)
		for i := 0; i < 16; i++ {
			out[i] = x[i] << 1
			if i < 15 {
				out[i] |= x[i+1] >> 7
			}
		}
		if x[0]&0x80 != 0 {
			out[15] ^= 0x87
		}
		return out
	}
	l := make([]byte, 16)
	b.Encrypt(l, l)
	k1 := shift(l)
	k2 := shift(k1)
	n := (len(m) + 15) / 16
	complete := n > 0 && len(m)%16 == 0
	if n == 0 {
		n = 1
	}
	last := make([]byte, 16)
	if complete {
		for i := range last {
			last[i] = m[16*(n-1)+i] ^ k1[i]
		}
	} else {
		rest := m[16*(n-1):]
		padded := append(append([]byte{}, rest...), 0x80)
		padded = append(padded, make([]byte, 16-len(padded))...)
		for i := range last {
			last[i] = padded[i] ^ k2[i]
		}
	}
	x := make([]byte, 16)
	for i := 0; i < n-1; i++ {
		for j := 0; j < 16; j++ {
			x[j] ^= m[16*i+j]
		}
		b.Encrypt(x, x)
	}
	for j := 0; j < 16; j++ {
		x[j] ^= last[j]
	}
	b.Encrypt(x, x)
	return x
}

// TestPseudonymSchemes (R-SHR-5): new grants are made with the CMAC
// pseudonym; a grant made before keeps its HMAC pseudonyms, value for value,
// so what its recipient already holds still joins; both carry the grant's
// tag, so trace reads either.
func TestPseudonymSchemes(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		g := f.grant(GrantSpec{ResourceID: "res-people", GranteeOrgID: "org-a", Fields: []string{"age", "income"}, Purpose: "低保资格核查", Kind: KindConditional})
		if g.PseudonymScheme != PseudonymCMAC {
			t.Fatalf("new grant's scheme = %d, want %d", g.PseudonymScheme, PseudonymCMAC)
		}
		stored, err := f.gate.loadGrant(ctx, db, g.ID, false)
		if err != nil || stored.PseudonymScheme != PseudonymCMAC {
			t.Fatalf("stored scheme = %+v, %v", stored, err)
		}
		first := func() (income float64, token string) {
			t.Helper()
			b, _, err := f.deliver(Request{Principal: deptA, ResourceID: "res-people", Limit: 1})
			if err != nil {
				t.Fatal(err)
			}
			var p page
			if err := json.Unmarshal(b, &p); err != nil {
				t.Fatal(err)
			}
			return 50000, p.Rows[0]["income"].(string)
		}
		tagOK := func(tok string) bool {
			return tagMatches(tagCipher(f.gate.traceKey, f.gate.opts.MaskAlgorithm, g.ID), tok)
		}
		tagged := func(prefix []byte) string {
			var in, enc [16]byte
			copy(in[:], prefix[:pseudoPrefix/2])
			out := make([]byte, pseudoTag)
			tag(tagCipher(f.gate.traceKey, f.gate.opts.MaskAlgorithm, g.ID), out, &in, &enc)
			return hex.EncodeToString(prefix[:pseudoPrefix/2]) + string(out)
		}
		v, tok := first()
		b, err := aes.NewCipher(derive(f.gate.pseudKey, "cmac\x00"+g.ID)[:16])
		if err != nil {
			t.Fatal(err)
		}
		var mac [16]byte
		newCMAC(b).sum(&mac, filter.Text(v))
		if want := tagged(mac[:]); tok != want || !tagOK(tok) {
			t.Fatalf("CMAC grant's pseudonym %q, want %q (tag ok %v)", tok, want, tagOK(tok))
		}

		// The same grant as if made before scheme 2.
		if _, err := db.ExecContext(ctx, `UPDATE gate_grants SET pseudonym_scheme = 1 WHERE id = $1`, g.ID); err != nil {
			t.Fatal(err)
		}
		f.gate.forget("res-people")
		_, tok = first()
		m := hmac.New(sha256.New, derive(f.gate.pseudKey, g.ID))
		m.Write([]byte(filter.Text(v)))
		if want := tagged(m.Sum(nil)); tok != want || !tagOK(tok) {
			t.Fatalf("HMAC grant's pseudonym %q, want %q (tag ok %v)", tok, want, tagOK(tok))
		}
	})
}

func BenchmarkCMAC(b *testing.B) {
	blk, _ := aes.NewCipher(make([]byte, 16))
	c := newCMAC(blk)
	var out [16]byte
	v := fmt.Sprintf("%018d", 350203199001011234)
	for b.Loop() {
		c.sum(&out, v)
	}
}
