package gate

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

// FuzzVerifyReceipt: `shuqiao receipt verify` reads a receipt and a file
// from anyone. Whatever they hold, it answers with an error or a result,
// never a panic. Seeded with real receipts, single and batched.
func FuzzVerifyReceipt(f *testing.F) {
	skey, vkey, err := note.GenerateKey(rand.Reader, "fuzz")
	if err != nil {
		f.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		f.Fatal(err)
	}
	s := &Service{signer: signer, vkey: vkey}
	// Real receipts, single and batched, over real files as seeds.
	file := []byte("a,b\n1,2\n")
	ds := make([]*Delivery, 3)
	for i := range ds {
		ds[i] = &Delivery{stmt: Statement{Type: StatementType, DeliveryID: string(rune('a' + i)), ContentSHA256: sha256Hex(file), Bytes: int64(len(file))}}
	}
	if err := s.signReceipts(ds[0]); err != nil {
		f.Fatal(err)
	}
	if err := s.signReceipts(ds[1:]...); err != nil {
		f.Fatal(err)
	}
	for _, d := range ds {
		b, _ := json.Marshal(d.Receipt)
		f.Add(file, b)
	}
	f.Add([]byte("x"), []byte(`{"note":"","ledger":{"seq":1,"entry":"{}","proof":{},"checkpoint":""}}`))
	f.Add([]byte("x"), []byte(`not json`))
	f.Fuzz(func(t *testing.T, file, receipt []byte) {
		v, err := VerifyReceipt(file, receipt, vkey, "")
		if err == nil && v == nil {
			t.Fatal("no error and no result")
		}
	})
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// FuzzParseReceiptNote: the receipt note parser (both forms) never panics.
func FuzzParseReceiptNote(f *testing.F) {
	f.Add("shuqiao.receipt/v1\n{\"type\":\"shuqiao.receipt/v1\"}\n\n— k sig\n")
	f.Add("shuqiao.receipt.batched/v1\n{\"type\":\"shuqiao.receipt/v1\"}\n1 4 a,b\n\nshuqiao.receipt.batch/v1\n4\nroot\n\n— k sig\n")
	f.Add(strings.Repeat("\n", 10))
	f.Fuzz(func(t *testing.T, note string) {
		rn, err := parseReceiptNote(note)
		if err == nil && rn == nil {
			t.Fatal("no error and no note")
		}
	})
}

// The fuzz seeds are real: each verifies against its file.
func TestFuzzSeedsVerify(t *testing.T) {
	skey, vkey, _ := note.GenerateKey(rand.Reader, "fuzz")
	signer, _ := note.NewSigner(skey)
	s := &Service{signer: signer, vkey: vkey}
	file := []byte("a,b\n1,2\n")
	ds := []*Delivery{{stmt: Statement{Type: StatementType, DeliveryID: "a", ContentSHA256: sha256Hex(file), Bytes: int64(len(file))}},
		{stmt: Statement{Type: StatementType, DeliveryID: "b", ContentSHA256: sha256Hex(file), Bytes: int64(len(file))}}}
	if err := s.signReceipts(ds...); err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		b, _ := json.Marshal(d.Receipt)
		if _, err := VerifyReceipt(file, b, vkey, ""); err != nil {
			t.Fatal(err)
		}
	}
}

// FuzzPseudonymCells: `shuqiao trace FILE` reads a leaked file of any kind
// (CSV, XLSX, JSON or none of these) without panicking, and keeps only
// well-formed pseudonym tokens.
func FuzzPseudonymCells(f *testing.F) {
	f.Add([]byte("id,name\n0123456789abcdef0123456789abcdef,张*\n"))
	f.Add([]byte(`{"rows":[{"id":"0123456789abcdef0123456789abcdef"}]}`))
	f.Add([]byte("PK\x03\x04garbage"))
	f.Fuzz(func(t *testing.T, file []byte) {
		for _, tok := range pseudonymCells(file) {
			if !isPseudonymToken(tok) {
				t.Fatalf("kept %q", tok)
			}
		}
	})
}
