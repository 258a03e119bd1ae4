package ledger

import (
	"bytes"
	"context"
	"crypto/rand"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"shuqiao/internal/store"
	"shuqiao/internal/store/storetest"
)

// dropAppendOnly removes the append-only triggers, as someone with direct
// write access to the database could, so the tests can tamper.
func dropAppendOnly(t *testing.T, db *store.DB) {
	t.Helper()
	stmts := []string{
		`DROP TRIGGER ledger_entries_no_update`, `DROP TRIGGER ledger_entries_no_delete`,
		`DROP TRIGGER ledger_checkpoints_no_update`, `DROP TRIGGER ledger_checkpoints_no_delete`,
		`DROP TRIGGER ledger_entry_index_no_update`, `DROP TRIGGER ledger_entry_index_no_delete`,
	}
	if db.Dialect == store.Postgres {
		stmts = []string{
			`DROP TRIGGER ledger_entries_append_only ON ledger_entries`,
			`DROP TRIGGER ledger_checkpoints_append_only ON ledger_checkpoints`,
			`DROP TRIGGER ledger_entry_index_append_only ON ledger_entry_index`,
		}
	}
	for _, s := range stmts {
		if _, err := db.ExecContext(context.Background(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// seedLog appends 40 events with checkpoints at 10, 25 and 40.
func seedLog(t *testing.T, db *store.DB, opts ...Options) *Ledger {
	t.Helper()
	ctx := context.Background()
	l := newTestLedger(t, db, opts...)
	total := 0
	for _, n := range []int{10, 15, 15} {
		appendCommitted(t, l, db, total, n)
		total += n
		mustIntegrate(t, l)
		if _, err := l.SignCheckpoint(ctx); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := Verify(ctx, db)
	if err != nil || !rep.OK {
		t.Fatalf("fresh log does not verify: %v %s", err, rep.Summary())
	}
	if rep.Entries != 40 || rep.Checkpoints != 3 {
		t.Fatalf("report: %+v", rep)
	}
	return l
}

func mustMismatch(t *testing.T, db *store.DB, wantEntry *uint64, wantCheckpoint *uint64) Report {
	t.Helper()
	rep, err := Verify(context.Background(), db)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if rep.OK {
		t.Fatal("Verify did not catch the tampering")
	}
	if wantEntry != nil && (rep.FirstBadEntry == nil || *rep.FirstBadEntry != *wantEntry) {
		t.Fatalf("first bad entry = %v, want %d (%s)", rep.FirstBadEntry, *wantEntry, rep.Summary())
	}
	if wantCheckpoint != nil && (rep.FirstBadCheckpoint == nil || *rep.FirstBadCheckpoint != *wantCheckpoint) {
		t.Fatalf("first bad checkpoint = %v, want %d (%s)", rep.FirstBadCheckpoint, *wantCheckpoint, rep.Summary())
	}
	return rep
}

func u(v uint64) *uint64 { return &v }

// R-SEC-13: tampering with one entry byte, the order of two entries, a
// checkpoint or a signature is caught, and the first bad one is named.
func TestVerifyCatchesTampering(t *testing.T) {
	ctx := context.Background()
	readBody := func(t *testing.T, db *store.DB, seq int) (body, leaf []byte) {
		t.Helper()
		if err := db.QueryRowContext(ctx, `SELECT body, leaf_hash FROM ledger_entries WHERE seq = $1`, seq).Scan(&body, &leaf); err != nil {
			t.Fatal(err)
		}
		return body, leaf
	}
	t.Run("entry byte", func(t *testing.T) {
		storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
			seedLog(t, db)
			dropAppendOnly(t, db)
			body, _ := readBody(t, db, 17)
			i := bytes.Index(body, []byte(`"record_count":17`))
			body[i+len(`"record_count":1`)] = '8' // 17 → 18
			if _, err := db.ExecContext(ctx, `UPDATE ledger_entries SET body = $1 WHERE seq = 17`, body); err != nil {
				t.Fatal(err)
			}
			mustMismatch(t, db, u(17), u(25))
		})
	})
	t.Run("entry byte with leaf hash rewritten", func(t *testing.T) {
		storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
			seedLog(t, db)
			dropAppendOnly(t, db)
			body, _ := readBody(t, db, 3)
			body = bytes.Replace(body, []byte(`"org-1"`), []byte(`"org-2"`), 1)
			// A careful forger fixes the leaf hash and the indexed column
			// too, and the index row; the signed roots still give it away.
			if _, err := db.ExecContext(ctx, `UPDATE ledger_entries SET body = $1, leaf_hash = $2, org_id = 'org-2' WHERE seq = 3`, body, LeafHash(body)); err != nil {
				t.Fatal(err)
			}
			if _, err := db.ExecContext(ctx, `UPDATE ledger_entry_index SET org_id = 'org-2' WHERE seq = 3`); err != nil {
				t.Fatal(err)
			}
			rep := mustMismatch(t, db, nil, u(10))
			if !strings.Contains(rep.Summary(), "[0, 10)") {
				t.Fatalf("summary does not narrow down the entry: %s", rep.Summary())
			}
		})
	})
	// R-SEC-13: an entry taken out of the index, or indexed under other
	// values, would drop out of queries by resource, org, grant, actor,
	// action or time while the log still proves it: Verify names it.
	for _, tc := range []struct {
		name, tamper string
		seq          uint64
		want         string
	}{
		{"entry hidden from the index", `DELETE FROM ledger_entry_index WHERE seq = 12`, 12, "missing from the index"},
		{"index row changed", `UPDATE ledger_entry_index SET resource_id = 'res-x' WHERE seq = 20`, 20, "index row does not match"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
				l := seedLog(t, db)
				if _, err := l.IndexTail(ctx); err != nil {
					t.Fatal(err)
				}
				dropAppendOnly(t, db)
				if _, err := db.ExecContext(ctx, tc.tamper); err != nil {
					t.Fatal(err)
				}
				if rep := mustMismatch(t, db, u(tc.seq), nil); !strings.Contains(rep.Summary(), tc.want) {
					t.Fatalf("summary: %s", rep.Summary())
				}
			})
		})
	}
	t.Run("order of two entries", func(t *testing.T) {
		storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
			seedLog(t, db)
			dropAppendOnly(t, db)
			b5, l5 := readBody(t, db, 5)
			b8, l8 := readBody(t, db, 8)
			// Swap the two rows' contents (seq stays with the position).
			for _, s := range []struct {
				seq        int
				body, leaf []byte
			}{{5, b8, l8}, {8, b5, l5}} {
				if _, err := db.ExecContext(ctx, `UPDATE ledger_entries SET body = $1, leaf_hash = $2 WHERE seq = $3`, s.body, s.leaf, s.seq); err != nil {
					t.Fatal(err)
				}
			}
			mustMismatch(t, db, u(5), u(10))
		})
	})
	t.Run("order of two entries, seq rewritten", func(t *testing.T) {
		storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
			seedLog(t, db)
			dropAppendOnly(t, db)
			b5, _ := readBody(t, db, 5)
			b8, _ := readBody(t, db, 8)
			n5 := bytes.Replace(b8, []byte(`{"seq":8,`), []byte(`{"seq":5,`), 1)
			n8 := bytes.Replace(b5, []byte(`{"seq":5,`), []byte(`{"seq":8,`), 1)
			for _, s := range []struct {
				seq  int
				body []byte
			}{{5, n5}, {8, n8}} {
				e, err := DecodeEntry(s.body)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := db.ExecContext(ctx, `UPDATE ledger_entries SET body = $1, leaf_hash = $2, actor_id = $3, org_id = $4, resource_id = $5 WHERE seq = $6`,
					s.body, LeafHash(s.body), e.ActorID, e.OrgID, e.ResourceID, s.seq); err != nil {
					t.Fatal(err)
				}
			}
			mustMismatch(t, db, nil, u(10))
		})
	})
	t.Run("deleted entry", func(t *testing.T) {
		storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
			seedLog(t, db)
			dropAppendOnly(t, db)
			if _, err := db.ExecContext(ctx, `DELETE FROM ledger_entries WHERE seq = 30`); err != nil {
				t.Fatal(err)
			}
			mustMismatch(t, db, u(30), u(40))
		})
	})
	t.Run("altered checkpoint", func(t *testing.T) {
		storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
			seedLog(t, db)
			dropAppendOnly(t, db)
			var n string
			if err := db.QueryRowContext(ctx, `SELECT note FROM ledger_checkpoints WHERE size = 25`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			altered := strings.Replace(n, "\n25\n", "\n24\n", 1)
			if altered == n {
				t.Fatal("test did not alter the checkpoint")
			}
			if _, err := db.ExecContext(ctx, `UPDATE ledger_checkpoints SET note = $1 WHERE size = 25`, altered); err != nil {
				t.Fatal(err)
			}
			mustMismatch(t, db, nil, u(25))
		})
	})
	t.Run("bad signature", func(t *testing.T) {
		storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
			seedLog(t, db)
			dropAppendOnly(t, db)
			var n string
			if err := db.QueryRowContext(ctx, `SELECT note FROM ledger_checkpoints WHERE size = 40`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			// Flip a character in the signature's base64 (past the key hash).
			i := strings.LastIndex(n, " ") + 12
			c := byte('A')
			if n[i] == 'A' {
				c = 'B'
			}
			bad := n[:i] + string(c) + n[i+1:]
			if _, err := db.ExecContext(ctx, `UPDATE ledger_checkpoints SET note = $1 WHERE size = 40`, bad); err != nil {
				t.Fatal(err)
			}
			mustMismatch(t, db, nil, u(40))
		})
	})
	t.Run("checkpoint signed by another key", func(t *testing.T) {
		storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
			l := seedLog(t, db)
			dropAppendOnly(t, db)
			skey, _, err := note.GenerateKey(rand.Reader, l.Origin())
			if err != nil {
				t.Fatal(err)
			}
			s, err := note.NewSigner(skey)
			if err != nil {
				t.Fatal(err)
			}
			cp, err := l.CheckpointAt(ctx, 10)
			if err != nil {
				t.Fatal(err)
			}
			forged, err := note.Sign(&note.Note{Text: checkpointBody(cp.Origin, cp.Size, cp.Root)}, s)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.ExecContext(ctx, `UPDATE ledger_checkpoints SET note = $1 WHERE size = 10`, string(forged)); err != nil {
				t.Fatal(err)
			}
			mustMismatch(t, db, nil, u(10))
		})
	})
	t.Run("pinned key", func(t *testing.T) {
		storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
			seedLog(t, db)
			_, other, err := note.GenerateKey(rand.Reader, DefaultOrigin)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := Verify(ctx, db, VerifyOptions{TrustedKeys: []string{other}})
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK || rep.FirstBadCheckpoint == nil || *rep.FirstBadCheckpoint != 10 {
				t.Fatalf("checkpoints verified under a key that did not sign them: %s", rep.Summary())
			}
		})
	})
}

// The database refuses updates and deletes of entries and checkpoints.
func TestEntriesAreAppendOnly(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		seedLog(t, db)
		ctx := context.Background()
		for _, s := range []string{
			`UPDATE ledger_entries SET action = 'use' WHERE seq = 1`,
			`DELETE FROM ledger_entries WHERE seq = 1`,
			`UPDATE ledger_checkpoints SET note = '' WHERE size = 10`,
			`DELETE FROM ledger_checkpoints`,
		} {
			if _, err := db.ExecContext(ctx, s); err == nil {
				t.Errorf("%s: succeeded", s)
			}
		}
	})
}

func TestSM2(t *testing.T) {
	skey, vkey, err := GenerateSM2Key(rand.Reader, "shuqiao.xiamen/ledger")
	if err != nil {
		t.Fatal(err)
	}
	s, alg, err := NewSigner(skey)
	if err != nil || alg != SM2 {
		t.Fatalf("NewSigner: %v %v", alg, err)
	}
	v, err := NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	if s.KeyHash() != v.KeyHash() || s.Name() != v.Name() {
		t.Fatal("signer and verifier disagree on the key")
	}
	if got, err := verifierKeyOf(skey); err != nil || got != vkey {
		t.Fatalf("verifierKeyOf = %q, %v; want %q", got, err, vkey)
	}
	msg, err := note.Sign(&note.Note{Text: "shuqiao.xiamen/ledger\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"}, s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := note.Open(msg, note.VerifierList(v)); err != nil {
		t.Fatalf("SM2 note does not open: %v", err)
	}
	// A flipped text byte fails the signature.
	bad := bytes.Replace(msg, []byte("\n1\n"), []byte("\n2\n"), 1)
	if _, err := note.Open(bad, note.VerifierList(v)); err == nil {
		t.Fatal("altered SM2 note verified")
	}
	// Malformed keys are refused.
	for _, k := range []string{"", "a+b+c", vkey[:len(vkey)-4], strings.Replace(vkey, "+", "+0", 1)} {
		if _, err := NewVerifier(k); err == nil {
			t.Errorf("NewVerifier(%q) accepted", k)
		}
	}
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l := newTestLedger(t, db, Options{Algorithm: SM2, Origin: "shuqiao.xiamen/ledger"})
		if !strings.HasPrefix(l.VerifierKey(), "shuqiao.xiamen/ledger+") {
			t.Fatalf("verifier key %q", l.VerifierKey())
		}
		appendCommitted(t, l, db, 0, 5)
		mustIntegrate(t, l)
		cp, err := l.SignCheckpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		v, err := NewVerifier(l.VerifierKey())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := OpenCheckpoint(cp.Note, note.VerifierList(v), "shuqiao.xiamen/ledger"); err != nil {
			t.Fatal(err)
		}
		// The same key is loaded again on restart.
		l2 := newTestLedger(t, db, Options{Algorithm: SM2, Origin: "shuqiao.xiamen/ledger"})
		if l2.VerifierKey() != l.VerifierKey() {
			t.Fatal("restart made a new key")
		}
		// A supplied key is used and recorded.
		l3 := newTestLedger(t, db, Options{Algorithm: SM2, Origin: "shuqiao.xiamen/ledger", SignerKey: skey})
		if l3.VerifierKey() != vkey {
			t.Fatal("supplied key not used")
		}
		appendCommitted(t, l3, db, 5, 1)
		mustIntegrate(t, l3)
		if _, err := l3.SignCheckpoint(ctx); err != nil {
			t.Fatal(err)
		}
		rep, err := Verify(ctx, db)
		if err != nil || !rep.OK || rep.Checkpoints != 2 {
			t.Fatalf("Verify after key change: %v %s", err, rep.Summary())
		}
	})
}

func TestSuppliedKeyMustMatchOrigin(t *testing.T) {
	db := storetest.OpenTestSQLite(t)
	skey, _, err := note.GenerateKey(rand.Reader, "other/ledger")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(context.Background(), db, nil, Options{SignerKey: skey}); err == nil {
		t.Fatal("a key named for another origin was accepted")
	}
}

// R-PRS-6: destroying a subject's key erases the link, and the log still
// verifies.
func TestSubjectKeyDestruction(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l := newTestLedger(t, db)
		const id = "11010519491231002x"
		var h1 string
		err := db.InTx(ctx, func(tx *store.Tx) error {
			var err error
			if h1, err = l.SubjectHash(ctx, tx, id); err != nil {
				return err
			}
			h2, err := l.SubjectHash(ctx, tx, " 11010519491231002X ")
			if err != nil {
				return err
			}
			if h1 != h2 {
				t.Error("one identifier, two hashes")
			}
			e := ev(1)
			e.Subjects = []string{h1}
			return l.Append(ctx, tx, e)
		})
		if err != nil {
			t.Fatal(err)
		}
		if !IsSubjectHash(h1) || strings.Contains(h1, "110105") {
			t.Fatalf("subject hash %q", h1)
		}
		if got, ok, err := l.LookupSubject(ctx, id); err != nil || !ok || got != h1 {
			t.Fatalf("LookupSubject = %q %v %v", got, ok, err)
		}
		mustIntegrate(t, l)
		var destroyed bool
		if err := db.InTx(ctx, func(tx *store.Tx) error {
			var err error
			destroyed, err = l.DestroySubjectKey(ctx, tx, id, Event{ActorKind: ActorUser, ActorID: "officer-1", OrgID: "org-0", Purpose: "erasure request"})
			return err
		}); err != nil || !destroyed {
			t.Fatalf("DestroySubjectKey: %v %v", destroyed, err)
		}
		mustIntegrate(t, l)
		if _, ok, _ := l.LookupSubject(ctx, id); ok {
			t.Fatal("the key survived destruction")
		}
		if n := count(t, db, "ledger_subject_keys"); n != 0 {
			t.Fatalf("%d subject keys left", n)
		}
		// The log shows the event and the destruction under the old hash…
		es, _, err := l.Query(ctx, Filter{Subject: h1})
		if err != nil || len(es) != 2 || es[0].Action != Destroy || es[0].ActorID != "officer-1" {
			t.Fatalf("query by subject after destruction: %v %+v", err, es)
		}
		// …nothing in the ledger holds the identifier…
		var bodies int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM ledger_entries WHERE body LIKE '%1101051949%'`).Scan(&bodies); err != nil || bodies != 0 {
			t.Fatalf("identifier in clear in %d entries (%v)", bodies, err)
		}
		// …the same identifier now gets a fresh, unlinkable hash…
		h3, err := l.SubjectHash(ctx, nil, id)
		if err != nil || h3 == h1 {
			t.Fatalf("hash after destruction = %q (%v)", h3, err)
		}
		// …and the log still verifies.
		rep, err := Verify(ctx, db)
		if err != nil || !rep.OK {
			t.Fatalf("Verify after destruction: %v %s", err, rep.Summary())
		}
		// The fresh key can be destroyed too; then there is nothing left to destroy.
		for i, want := range []bool{true, false} {
			err := db.InTx(ctx, func(tx *store.Tx) error {
				var err error
				destroyed, err = l.DestroySubjectKey(ctx, tx, id)
				return err
			})
			if err != nil || destroyed != want {
				t.Fatalf("destroy #%d: %v %v", i, destroyed, err)
			}
		}
	})
}
