package ledger

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"shuqiao/internal/store"
)

// ExportFormat names the export's format in its header line.
const ExportFormat = "shuqiao-ledger-export/1"

// An export is JSON lines, one object per line, in this order:
//
//	{"type":"header","format":"shuqiao-ledger-export/1","tree_size":N,"root":"<base64>"}
//	{"type":"key","vkey":"<note verifier key>"}                       one per key
//	{"type":"checkpoint","note":"<signed note text>"}                   one per checkpoint, by size
//	{"type":"entry","seq":0,"leaf_hash":"<base64>","body":"<base64>"}   one per entry, by seq
//
// body is the canonical entry bytes (base64, so they survive byte for byte).
// A third party verifies it with VerifyExport (or `shuqiao ledger verify
// --export FILE --key VKEY`), trusting only the key it got from the operator
// out of band; the keys in the file are a convenience.
type exportLine struct {
	Type     string `json:"type"`
	Format   string `json:"format,omitempty"`
	TreeSize uint64 `json:"tree_size,omitempty"`
	Root     []byte `json:"root,omitempty"`
	VKey     string `json:"vkey,omitempty"`
	Note     string `json:"note,omitempty"`
	Seq      uint64 `json:"seq,omitempty"`
	LeafHash []byte `json:"leaf_hash,omitempty"`
	Body     []byte `json:"body,omitempty"`
}

// Export writes the whole log to w in the export format and returns the
// number of entries written. progress, if given, is told how many entries
// are written, every few thousand. It reads one consistent snapshot on PostgreSQL
// (a repeatable-read transaction); on SQLite the read transaction is
// consistent by itself.
func Export(ctx context.Context, db *store.DB, w io.Writer, progress ...func(done, total uint64)) (uint64, error) {
	bw := bufio.NewWriterSize(w, 1<<16)
	enc := json.NewEncoder(bw)
	var n uint64
	err := db.InTx(ctx, func(tx *store.Tx) error {
		if tx.Dialect == store.Postgres {
			if _, err := tx.ExecContext(ctx, `SET TRANSACTION ISOLATION LEVEL REPEATABLE READ`); err != nil {
				return err
			}
		}
		st, err := loadTree(ctx, tx, false)
		if err != nil {
			return err
		}
		if err := enc.Encode(exportLine{Type: "header", Format: ExportFormat, TreeSize: st.size, Root: st.root}); err != nil {
			return err
		}
		vkeys, err := VerifierKeys(ctx, tx)
		if err != nil {
			return err
		}
		for _, k := range vkeys {
			if err := enc.Encode(exportLine{Type: "key", VKey: k}); err != nil {
				return err
			}
		}
		cps, err := readCheckpoints(ctx, tx)
		if err != nil {
			return err
		}
		for _, c := range cps {
			if c.size > st.size {
				continue // signed after our snapshot's tree state; not possible, but keep the export coherent
			}
			if err := enc.Encode(exportLine{Type: "checkpoint", Note: string(c.note)}); err != nil {
				return err
			}
		}
		rows, err := tx.QueryContext(ctx, `SELECT seq, leaf_hash, body FROM ledger_entries WHERE seq < $1 ORDER BY seq`, int64(st.size))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				seq        int64
				leaf, body []byte
			)
			if err := rows.Scan(&seq, &leaf, &body); err != nil {
				return err
			}
			if err := enc.Encode(exportLine{Type: "entry", Seq: uint64(seq), LeafHash: leaf, Body: body}); err != nil {
				return err
			}
			n++
			if len(progress) > 0 && (n%4096 == 0 || n == st.size) {
				progress[0](n, st.size)
			}
		}
		return rows.Err()
	})
	if err != nil {
		return n, fmt.Errorf("ledger: export: %w", err)
	}
	return n, bw.Flush()
}

// maxExportLine bounds one line of an export: an entry is at most a few
// tens of kilobytes (8 KiB detail, 1000 fields and subjects) in base64.
const maxExportLine = 1 << 20

// VerifyExport verifies an export read from r, offline: it recomputes the
// tree from the entries, checks their order and hashes, and checks every
// checkpoint against trustedKeys (verifier key strings). With no trusted
// keys it uses the keys in the file, which proves the file is internally
// consistent but not who signed it. The error is for unreadable input; a
// mismatch is in the Report.
func VerifyExport(r io.Reader, trustedKeys []string) (Report, error) {
	rep := Report{OK: true}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxExportLine)
	var (
		header  *exportLine
		keys    []string
		cps     []storedCheckpoint
		v       *verifier
		lineNo  int
		started bool
	)
	start := func() error {
		if started {
			return nil
		}
		started = true
		if len(trustedKeys) > 0 {
			keys = trustedKeys
		}
		var err error
		v, err = newVerifier(&rep, cps, keys)
		return err
	}
	for sc.Scan() {
		lineNo++
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		l, err := parseExportLine(line)
		if err != nil {
			return rep, fmt.Errorf("ledger: export line %d: %w", lineNo, err)
		}
		switch {
		case header == nil && l.Type != "header":
			return rep, fmt.Errorf("ledger: export line %d: the first line must be the header", lineNo)
		case l.Type == "header":
			if header != nil {
				return rep, fmt.Errorf("ledger: export line %d: a second header", lineNo)
			}
			if l.Format != ExportFormat {
				return rep, fmt.Errorf("ledger: export format %q, want %q", l.Format, ExportFormat)
			}
			header = &l
			rep.TreeSize = l.TreeSize
		case l.Type == "key":
			if started {
				return rep, fmt.Errorf("ledger: export line %d: key after entries", lineNo)
			}
			keys = append(keys, l.VKey)
		case l.Type == "checkpoint":
			if started {
				return rep, fmt.Errorf("ledger: export line %d: checkpoint after entries", lineNo)
			}
			body, _, _ := strings.Cut(l.Note, "\n\n")
			cp, err := ParseCheckpointBody(body + "\n")
			if err != nil {
				return rep, fmt.Errorf("ledger: export line %d: %w", lineNo, err)
			}
			cps = append(cps, storedCheckpoint{size: cp.Size, note: []byte(l.Note)})
		case l.Type == "entry":
			if err := start(); err != nil {
				return rep, err
			}
			v.entry(l.Seq, l.LeafHash, l.Body, nil)
		}
	}
	if err := sc.Err(); err != nil {
		return rep, fmt.Errorf("ledger: export line %d: %w", lineNo+1, err)
	}
	if header == nil {
		return rep, errors.New("ledger: export is empty")
	}
	if err := start(); err != nil {
		return rep, err
	}
	v.finish()
	if rep.Entries != header.TreeSize {
		rep.problem("header says %d entries, the export has %d", header.TreeSize, rep.Entries)
	} else if header.Root != nil && !bytes.Equal(header.Root, rep.Root) {
		rep.problem("header root does not match the entries")
	}
	return rep, nil
}

// parseExportLine parses and checks one export line.
func parseExportLine(line []byte) (exportLine, error) {
	var l exportLine
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return l, err
	}
	if dec.More() {
		return l, errors.New("trailing data")
	}
	switch l.Type {
	case "header":
	case "key":
		if _, err := NewVerifier(l.VKey); err != nil {
			return l, err
		}
	case "checkpoint":
		if l.Note == "" {
			return l, errors.New("checkpoint without note")
		}
	case "entry":
		if len(l.Body) == 0 || len(l.LeafHash) != hasher.Size() {
			return l, errors.New("entry without body or leaf hash")
		}
	default:
		return l, fmt.Errorf("unknown line type %q", l.Type)
	}
	return l, nil
}

// maxProofHashes bounds an inclusion proof: 64 levels cover any tree.
const maxProofHashes = 64

// ParseInclusionProof parses an inclusion proof as the API and `shuqiao
// ledger` write it (the JSON of InclusionProof; other members, such as a
// checkpoint, are ignored).
func ParseInclusionProof(b []byte) (InclusionProof, error) {
	var p InclusionProof
	if len(b) > 64<<10 {
		return p, errors.New("ledger: proof is too large")
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return p, fmt.Errorf("ledger: proof: %w", err)
	}
	if p.TreeSize == 0 || p.Seq >= p.TreeSize {
		return p, errors.New("ledger: proof: seq must be below tree_size")
	}
	if len(p.Hashes) > maxProofHashes {
		return p, errors.New("ledger: proof: too many hashes")
	}
	for _, h := range p.Hashes {
		if len(h) != hasher.Size() {
			return p, errors.New("ledger: proof: a hash is not 32 bytes")
		}
	}
	if p.LeafHash != nil && len(p.LeafHash) != hasher.Size() {
		return p, errors.New("ledger: proof: leaf_hash is not 32 bytes")
	}
	return p, nil
}

// CheckProof answers, with no database, whether entry (the canonical entry
// bytes, as GET /api/v1/ledger/entries/{seq} serves them) is in the log that
// checkpoint (a signed note) commits to, by the inclusion proof (JSON) and
// the verifier key the operator published. It returns false and the reason
// when any part does not check out: a malformed input, a signature that does
// not verify, a proof for another entry or another tree size, or a proof
// that does not lead to the signed root (R-SHR-8: a delivery can be shown
// authentic).
func CheckProof(entry, proofJSON, checkpoint []byte, verifierKey string) (bool, error) {
	v, err := NewVerifier(strings.TrimSpace(verifierKey))
	if err != nil {
		return false, err
	}
	cp, err := OpenCheckpoint(checkpoint, note.VerifierList(v), "")
	if err != nil {
		return false, err
	}
	p, err := ParseInclusionProof(proofJSON)
	if err != nil {
		return false, err
	}
	// A file saved by hand may end in a newline; canonical bytes never do.
	entry = bytes.TrimRight(entry, "\r\n")
	e, err := DecodeEntry(entry)
	if err != nil {
		return false, err
	}
	if e.Seq != p.Seq {
		return false, fmt.Errorf("ledger: the entry has seq %d but the proof is for seq %d", e.Seq, p.Seq)
	}
	if p.TreeSize != cp.Size {
		return false, fmt.Errorf("ledger: the proof is for tree size %d but the checkpoint is of size %d", p.TreeSize, cp.Size)
	}
	if p.LeafHash != nil && !bytes.Equal(p.LeafHash, e.LeafHash) {
		return false, errors.New("ledger: the proof's leaf hash is not the entry's")
	}
	if err := VerifyInclusion(entry, p, cp.Root); err != nil {
		return false, fmt.Errorf("ledger: the proof does not lead to the signed root: %w", err)
	}
	return true, nil
}
