package ledger

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

// The parsers of outside input that `shuqiao ledger check-proof` and
// `verify --export` use must never panic and must never accept what does not
// verify.

func fuzzFixture(f *testing.F) (entry, proofJSON, cp []byte, vkey string) {
	f.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, DefaultOrigin)
	if err != nil {
		f.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		f.Fatal(err)
	}
	var bodies [][]byte
	rng := rangeFactory.NewEmptyRange(0)
	for i := 0; i < 5; i++ {
		ej, _ := json.Marshal(ev(i))
		b, _ := EncodeEntry(uint64(i), ej)
		bodies = append(bodies, b)
		_ = rng.Append(LeafHash(b), nil)
	}
	root, _ := rng.GetRootHash(nil)
	cp, err = note.Sign(&note.Note{Text: checkpointBody(DefaultOrigin, 5, root)}, s)
	if err != nil {
		f.Fatal(err)
	}
	// Inclusion proof of entry 2 in a tree of 5, computed by brute force.
	h := func(a, b []byte) []byte { return hasher.HashChildren(a, b) }
	l := func(i int) []byte { return LeafHash(bodies[i]) }
	p := InclusionProof{Seq: 2, TreeSize: 5, LeafHash: l(2), Hashes: [][]byte{l(3), h(l(0), l(1)), l(4)}}
	proofJSON, _ = json.Marshal(p)
	if ok, err := CheckProof(bodies[2], proofJSON, cp, vkey); !ok {
		f.Fatalf("fixture does not check: %v", err)
	}
	return bodies[2], proofJSON, cp, vkey
}

func FuzzCheckProof(f *testing.F) {
	entry, proofJSON, cp, vkey := fuzzFixture(f)
	f.Add(entry, proofJSON, cp)
	f.Add([]byte(`{"seq":2}`), []byte(`{"seq":2,"tree_size":5,"hashes":[]}`), []byte("x\n\n— y z\n"))
	f.Fuzz(func(t *testing.T, e, p, c []byte) {
		ok, err := CheckProof(e, p, c, vkey)
		if ok != (err == nil) {
			t.Fatalf("ok=%v err=%v", ok, err)
		}
		if ok && !(bytes.Equal(bytes.TrimRight(e, "\r\n"), entry) && bytes.Equal(c, cp)) {
			// Anything else that checks must at least be the same signed tree.
			if _, err := note.Open(c, note.VerifierList(mustVerifier(t, vkey))); err != nil {
				t.Fatalf("accepted an unsigned checkpoint: %q", c)
			}
		}
	})
}

func mustVerifier(t *testing.T, vkey string) note.Verifier {
	v, err := NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func FuzzParseCheckpointBody(f *testing.F) {
	f.Add("shuqiao.local/ledger\n5\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n")
	f.Add("o\n0\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\next\n")
	f.Fuzz(func(t *testing.T, s string) {
		cp, err := ParseCheckpointBody(s)
		if err != nil {
			return
		}
		// What parses re-formats to a prefix of the input.
		if got := checkpointBody(cp.Origin, cp.Size, cp.Root); len(got) > len(s) || s[:len(got)] != got {
			t.Fatalf("%q parsed as %+v, which formats as %q", s, cp, got)
		}
	})
}

func FuzzDecodeEntry(f *testing.F) {
	ej, _ := json.Marshal(ev(3))
	b, _ := EncodeEntry(3, ej)
	f.Add(b)
	f.Add([]byte(`{"seq":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := DecodeEntry(b)
		if err == nil && !bytes.Equal(e.LeafHash, LeafHash(b)) {
			t.Fatal("leaf hash does not cover the input")
		}
	})
}

func FuzzVerifyExport(f *testing.F) {
	entry, _, cp, vkey := fuzzFixture(f)
	f.Add([]byte(`{"type":"header","format":"shuqiao-ledger-export/1","tree_size":1}` + "\n" +
		`{"type":"key","vkey":"` + vkey + `"}` + "\n"))
	line, _ := json.Marshal(exportLine{Type: "entry", Seq: 2, LeafHash: LeafHash(entry), Body: entry})
	cl, _ := json.Marshal(exportLine{Type: "checkpoint", Note: string(cp)})
	f.Add([]byte(`{"type":"header","format":"shuqiao-ledger-export/1","tree_size":1}` + "\n" + string(cl) + "\n" + string(line) + "\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rep, err := VerifyExport(bytes.NewReader(b), []string{vkey})
		if err == nil && rep.OK && rep.Checkpoints > 0 {
			// Only the fixture's real tree can carry a valid checkpoint, and
			// that tree has 5 entries the input would have to contain.
			if rep.Entries != 5 {
				t.Fatalf("verified %d entries against a checkpoint of 5", rep.Entries)
			}
		}
	})
}
