package ledger

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"shuqiao/internal/apperr"
	"shuqiao/internal/store"
)

// Personal identifiers (an ID card number, a phone number) never enter the
// ledger in clear (R-PRS-6). An event names a data subject by
//
//	subject hash = hex(HMAC-SHA256(subject key, "shuqiao/subject\n" || identifier))
//
// under a random key made for that subject on first use. The key is found by
// lookup = hex(HMAC-SHA256(lookup secret, identifier)), so the key table holds
// no identifier either. Destroying the subject's key erases the link between
// the person and every hash in the log, and the log still verifies, because
// the entries themselves never change.

var errNoIdentifier = apperr.New(apperr.Invalid, "ledger.subject_identifier", "数据主体标识为空", "the data subject identifier is empty")

// normalizeIdentifier trims spaces and folds ASCII letters to upper case, so
// "11010519491231002x" and "11010519491231002X " name one subject.
func normalizeIdentifier(id string) string {
	return strings.ToUpper(strings.TrimSpace(id))
}

// IsSubjectHash reports whether s has the form of a subject hash.
func IsSubjectHash(s string) bool { return isHex64(s) }

// isHex64 reports whether s is 64 lowercase hex digits: a SHA-256 or
// HMAC-SHA-256 as this package writes them.
func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func (l *Ledger) lookupOf(id string) string {
	m := hmac.New(sha256.New, l.lookupKey)
	m.Write([]byte(id))
	return hex.EncodeToString(m.Sum(nil))
}

func subjectHashOf(key []byte, id string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("shuqiao/subject\n"))
	m.Write([]byte(id))
	return hex.EncodeToString(m.Sum(nil))
}

func queryerOf(db *store.DB, tx *store.Tx) store.Queryer {
	if tx != nil {
		return tx
	}
	return db
}

// SubjectHash returns the keyed hash that stands for identifier in events,
// creating the subject's key on first use (inside tx when given, so the key
// exists exactly when the events that use it commit).
func (l *Ledger) SubjectHash(ctx context.Context, tx *store.Tx, identifier string) (string, error) {
	id := normalizeIdentifier(identifier)
	if id == "" {
		return "", errNoIdentifier
	}
	q := queryerOf(l.db, tx)
	lookup := l.lookupOf(id)
	key, err := subjectKey(ctx, q, lookup)
	if err == nil {
		return subjectHashOf(key, id), nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return "", err
	}
	var k [32]byte
	if _, err := rand.Read(k[:]); err != nil {
		return "", err
	}
	if _, err := q.ExecContext(ctx,
		`INSERT INTO ledger_subject_keys (lookup, key, created_at) VALUES ($1, $2, $3) ON CONFLICT (lookup) DO NOTHING`,
		lookup, k[:], store.Micros(l.clock.Now())); err != nil {
		return "", fmt.Errorf("ledger: create subject key: %w", err)
	}
	if key, err = subjectKey(ctx, q, lookup); err != nil {
		return "", fmt.Errorf("ledger: read subject key: %w", err)
	}
	return subjectHashOf(key, id), nil
}

func subjectKey(ctx context.Context, q store.Queryer, lookup string) ([]byte, error) {
	var key []byte
	err := q.QueryRowContext(ctx, `SELECT key FROM ledger_subject_keys WHERE lookup = $1`, lookup).Scan(&key)
	return key, err
}

// LookupSubject returns identifier's current subject hash without creating
// a key; ok is false when the subject has none (never seen, or destroyed).
func (l *Ledger) LookupSubject(ctx context.Context, identifier string) (hash string, ok bool, err error) {
	id := normalizeIdentifier(identifier)
	if id == "" {
		return "", false, errNoIdentifier
	}
	key, err := subjectKey(ctx, l.db, l.lookupOf(id))
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("ledger: read subject key: %w", err)
	}
	return subjectHashOf(key, id), true, nil
}

// DestroySubjectKey destroys identifier's subject key inside tx and records
// a destroy event naming the (now unlinkable) subject hash. by, if given,
// supplies the event's actor, org, purpose and detail; otherwise the platform
// is the actor. It reports whether there was a key to destroy. Entries are
// untouched, so the log still verifies (R-PRS-6, R-SEC-13).
//
// The key's row is overwritten before it is deleted. SQLite's WAL and
// PostgreSQL's dead tuples may keep the old page image until the next
// checkpoint or VACUUM; operators run those routinely.
func (l *Ledger) DestroySubjectKey(ctx context.Context, tx *store.Tx, identifier string, by ...Event) (bool, error) {
	if tx == nil {
		return false, errors.New("ledger: DestroySubjectKey needs a transaction")
	}
	id := normalizeIdentifier(identifier)
	if id == "" {
		return false, errNoIdentifier
	}
	lookup := l.lookupOf(id)
	key, err := subjectKey(ctx, tx, lookup)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("ledger: read subject key: %w", err)
	}
	hash := subjectHashOf(key, id)
	if _, err := tx.ExecContext(ctx, `UPDATE ledger_subject_keys SET key = $1 WHERE lookup = $2`, make([]byte, len(key)), lookup); err != nil {
		return false, fmt.Errorf("ledger: destroy subject key: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM ledger_subject_keys WHERE lookup = $1`, lookup); err != nil {
		return false, fmt.Errorf("ledger: destroy subject key: %w", err)
	}
	ev := Event{ActorKind: ActorSystem}
	if len(by) > 0 {
		ev = by[0]
	}
	ev.Action = Destroy
	ev.Object = "subject-key"
	ev.Subjects = []string{hash}
	if len(ev.Detail) == 0 {
		ev.Detail = DetailOf(map[string]string{"destroyed": "subject key"})
	}
	if err := l.Append(ctx, tx, ev); err != nil {
		return false, err
	}
	return true, nil
}
