package ledger

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"golang.org/x/mod/sumdb/note"

	"shuqiao/internal/store"
)

// Key kinds in ledger_keys.
const (
	kindSigner        = "signer"         // a generated checkpoint key: secret and public
	kindVerifier      = "verifier"       // a supplied key's public half only
	kindSubjectLookup = "subject-lookup" // the secret keying subject lookups
)

// loadKeys loads the checkpoint signer (generating and storing it on first
// start unless one was supplied), every verifier key this store has known,
// and the subject lookup secret. Replicas starting together converge on one
// key: the first insert wins and everyone re-reads it.
func (l *Ledger) loadKeys(ctx context.Context) error {
	now := store.Micros(l.clock.Now())
	if l.opts.SignerKey != "" {
		s, alg, err := NewSigner(l.opts.SignerKey)
		if err != nil {
			return err
		}
		if s.Name() != l.opts.Origin {
			return fmt.Errorf("ledger: signer key is named %q but the origin is %q", s.Name(), l.opts.Origin)
		}
		vkey, err := verifierKeyOf(l.opts.SignerKey)
		if err != nil {
			return fmt.Errorf("ledger: signer key: %w", err)
		}
		name := fmt.Sprintf("verifier:%s:%s:%08x", alg, s.Name(), s.KeyHash())
		if _, err := l.db.ExecContext(ctx,
			`INSERT INTO ledger_keys (name, kind, public, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING`,
			name, kindVerifier, vkey, now); err != nil {
			return fmt.Errorf("ledger: record verifier key: %w", err)
		}
		l.signer, l.vkey = s, vkey
	} else {
		name := fmt.Sprintf("signer:%s:%s", l.opts.Algorithm, l.opts.Origin)
		skey, vkey, err := l.generateKey()
		if err != nil {
			return err
		}
		if _, err := l.db.ExecContext(ctx,
			`INSERT INTO ledger_keys (name, kind, secret, public, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING`,
			name, kindSigner, skey, vkey, now); err != nil {
			return fmt.Errorf("ledger: store signer key: %w", err)
		}
		if err := l.db.QueryRowContext(ctx, `SELECT secret, public FROM ledger_keys WHERE name = $1`, name).Scan(&skey, &vkey); err != nil {
			return fmt.Errorf("ledger: read signer key: %w", err)
		}
		s, _, err := NewSigner(skey)
		if err != nil {
			return fmt.Errorf("ledger: stored signer key: %w", err)
		}
		l.signer, l.vkey = s, vkey
	}
	vkeys, err := VerifierKeys(ctx, l.db)
	if err != nil {
		return err
	}
	if l.verifiers, err = verifierList(vkeys); err != nil {
		return err
	}

	var secret [32]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return err
	}
	if _, err := l.db.ExecContext(ctx,
		`INSERT INTO ledger_keys (name, kind, secret, created_at) VALUES ($1, $1, $2, $3) ON CONFLICT (name) DO NOTHING`,
		kindSubjectLookup, hex.EncodeToString(secret[:]), now); err != nil {
		return fmt.Errorf("ledger: store subject lookup secret: %w", err)
	}
	var s string
	if err := l.db.QueryRowContext(ctx, `SELECT secret FROM ledger_keys WHERE name = $1`, kindSubjectLookup).Scan(&s); err != nil {
		return fmt.Errorf("ledger: read subject lookup secret: %w", err)
	}
	if l.lookupKey, err = hex.DecodeString(s); err != nil || len(l.lookupKey) != 32 {
		return fmt.Errorf("ledger: subject lookup secret is corrupt")
	}
	return nil
}

func (l *Ledger) generateKey() (skey, vkey string, err error) {
	if l.opts.Algorithm == SM2 {
		return GenerateSM2Key(rand.Reader, l.opts.Origin)
	}
	return note.GenerateKey(rand.Reader, l.opts.Origin)
}

// VerifierKeys returns every checkpoint verifier key the store has known,
// current and past, so old checkpoints stay verifiable after a key change.
func VerifierKeys(ctx context.Context, q store.Queryer) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT public FROM ledger_keys WHERE kind IN ($1, $2) ORDER BY created_at, name`, kindSigner, kindVerifier)
	if err != nil {
		return nil, fmt.Errorf("ledger: read verifier keys: %w", err)
	}
	defer rows.Close()
	var out []string
	seen := map[string]bool{}
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out, rows.Err()
}

func verifierList(vkeys []string) (note.Verifiers, error) {
	vs := make([]note.Verifier, 0, len(vkeys))
	for _, k := range vkeys {
		v, err := NewVerifier(k)
		if err != nil {
			return nil, err
		}
		vs = append(vs, v)
	}
	return note.VerifierList(vs...), nil
}
