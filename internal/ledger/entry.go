package ledger

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/transparency-dev/merkle/rfc6962"
)

// hasher is the Merkle tree's hash: RFC 6962 over SHA-256. (SM3 is used for
// SM2 checkpoint signatures; the tree itself stays on RFC 6962 SHA-256 so any
// transparency-log tool can check it. See decision 0022.)
var hasher = rfc6962.DefaultHasher

// Entry is one sequenced event of the log.
type Entry struct {
	// Seq is the entry's leaf index in the Merkle tree, from 0.
	Seq uint64 `json:"seq"`
	Event
	// LeafHash is the RFC 6962 leaf hash of Body.
	LeafHash []byte `json:"leaf_hash"`
	// Body is the canonical entry bytes that LeafHash covers (see EncodeEntry).
	Body []byte `json:"-"`
}

// EncodeEntry returns the canonical bytes of the entry at seq whose event was
// encoded (by Append) as eventJSON: the event's JSON object with "seq" as its
// first member:
//
//	{"seq":42,"time":"2025-01-02T03:04:05.123456Z","actor_kind":"user",…}
//
// These bytes, exactly as stored, are what the leaf hash covers; a verifier
// needs nothing but them to check an entry and to read its sequence number.
func EncodeEntry(seq uint64, eventJSON []byte) ([]byte, error) {
	if len(eventJSON) < 2 || eventJSON[0] != '{' || eventJSON[1] == '}' {
		return nil, errors.New("ledger: event is not a non-empty JSON object")
	}
	b := make([]byte, 0, len(eventJSON)+24)
	b = append(b, `{"seq":`...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, ',')
	b = append(b, eventJSON[1:]...)
	return b, nil
}

// DecodeEntry parses canonical entry bytes. It checks the form, not the
// hash: the caller compares LeafHash where it has one.
func DecodeEntry(body []byte) (Entry, error) {
	if !bytes.HasPrefix(body, []byte(`{"seq":`)) {
		return Entry{}, errors.New("ledger: entry does not start with its seq")
	}
	var w struct {
		Seq *uint64 `json:"seq"`
		Event
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return Entry{}, fmt.Errorf("ledger: entry: %w", err)
	}
	if dec.More() {
		return Entry{}, errors.New("ledger: entry: trailing data")
	}
	if w.Seq == nil {
		return Entry{}, errors.New("ledger: entry has no seq")
	}
	return Entry{Seq: *w.Seq, Event: w.Event, LeafHash: hasher.HashLeaf(body), Body: body}, nil
}

// LeafHash returns the RFC 6962 leaf hash of canonical entry bytes.
func LeafHash(body []byte) []byte { return hasher.HashLeaf(body) }
