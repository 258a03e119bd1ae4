package ledger

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"shuqiao/internal/apperr"
	"shuqiao/internal/store"
)

// Checkpoint is a signed statement of the tree's size and root, in the C2SP
// tlog-checkpoint format:
//
//	<origin>
//	<size, decimal>
//	<root hash, base64>
//
// carried as a signed note (golang.org/x/mod/sumdb/note).
type Checkpoint struct {
	Origin string `json:"origin"`
	Size   uint64 `json:"size"`
	Root   []byte `json:"root"`
	// Note is the whole signed note: the body above, a blank line and the
	// signature lines.
	Note []byte `json:"-"`
}

// checkpointBody formats the note text of a checkpoint.
func checkpointBody(origin string, size uint64, root []byte) string {
	return origin + "\n" + strconv.FormatUint(size, 10) + "\n" + base64.StdEncoding.EncodeToString(root) + "\n"
}

// ParseCheckpointBody parses the text of a checkpoint note (without the
// signatures). Extension lines after the root are allowed and ignored.
func ParseCheckpointBody(text string) (Checkpoint, error) {
	if !strings.HasSuffix(text, "\n") {
		return Checkpoint{}, errors.New("ledger: checkpoint does not end in a newline")
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 3 {
		return Checkpoint{}, errors.New("ledger: checkpoint has fewer than three lines")
	}
	origin := lines[0]
	if origin == "" {
		return Checkpoint{}, errors.New("ledger: checkpoint has no origin")
	}
	if lines[1] == "" || (len(lines[1]) > 1 && lines[1][0] == '0') {
		return Checkpoint{}, errors.New("ledger: checkpoint size is not canonical decimal")
	}
	size, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil {
		return Checkpoint{}, errors.New("ledger: checkpoint size is not a number")
	}
	root, err := base64.StdEncoding.Strict().DecodeString(lines[2])
	if err != nil || len(root) != hasher.Size() {
		return Checkpoint{}, errors.New("ledger: checkpoint root is not a base64 SHA-256 hash")
	}
	for _, ext := range lines[3:] {
		if ext == "" {
			return Checkpoint{}, errors.New("ledger: checkpoint has an empty extension line")
		}
	}
	return Checkpoint{Origin: origin, Size: size, Root: root}, nil
}

// OpenCheckpoint verifies a signed checkpoint note against the known
// verifier keys and parses it. origin, when not empty, must match.
func OpenCheckpoint(signed []byte, verifiers note.Verifiers, origin string) (Checkpoint, error) {
	n, err := note.Open(signed, verifiers)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("ledger: checkpoint signature: %w", err)
	}
	cp, err := ParseCheckpointBody(n.Text)
	if err != nil {
		return Checkpoint{}, err
	}
	if origin != "" && cp.Origin != origin {
		return Checkpoint{}, fmt.Errorf("ledger: checkpoint origin %q, want %q", cp.Origin, origin)
	}
	cp.Note = signed
	return cp, nil
}

var errNoCheckpoint = apperr.New(apperr.NotFound, "ledger.no_checkpoint", "账本尚无签名检查点", "the ledger has no signed checkpoint yet")

// SignCheckpoint signs a checkpoint of the current tree and stores it,
// unless one for this size exists already, and returns it.
func (l *Ledger) SignCheckpoint(ctx context.Context) (Checkpoint, error) {
	st, err := loadTree(ctx, l.db, false)
	if err != nil {
		return Checkpoint{}, err
	}
	if cp, err := l.checkpointAt(ctx, st.size); err == nil {
		return cp, nil
	} else if !errors.Is(err, sql.ErrNoRows) {
		return Checkpoint{}, err
	}
	signed, err := note.Sign(&note.Note{Text: checkpointBody(l.opts.Origin, st.size, st.root)}, l.signer)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("ledger: sign checkpoint: %w", err)
	}
	if _, err := l.db.ExecContext(ctx,
		`INSERT INTO ledger_checkpoints (size, root, note, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (size) DO NOTHING`,
		int64(st.size), st.root, string(signed), store.Micros(l.clock.Now())); err != nil {
		return Checkpoint{}, fmt.Errorf("ledger: store checkpoint: %w", err)
	}
	// Another replica may have won the race for this size: return what is stored.
	return l.checkpointAt(ctx, st.size)
}

func (l *Ledger) checkpointAt(ctx context.Context, size uint64) (Checkpoint, error) {
	var signed string
	if err := l.db.QueryRowContext(ctx, `SELECT note FROM ledger_checkpoints WHERE size = $1`, int64(size)).Scan(&signed); err != nil {
		return Checkpoint{}, err
	}
	return OpenCheckpoint([]byte(signed), l.verifiers, "")
}

// LatestCheckpoint returns the newest signed checkpoint. If none was signed
// yet it signs one of the current tree.
func (l *Ledger) LatestCheckpoint(ctx context.Context) (Checkpoint, error) {
	var signed string
	err := l.db.QueryRowContext(ctx, `SELECT note FROM ledger_checkpoints ORDER BY size DESC LIMIT 1`).Scan(&signed)
	if errors.Is(err, sql.ErrNoRows) {
		return l.SignCheckpoint(ctx)
	}
	if err != nil {
		return Checkpoint{}, fmt.Errorf("ledger: read checkpoint: %w", err)
	}
	return OpenCheckpoint([]byte(signed), l.verifiers, "")
}

// CheckpointAt returns the stored checkpoint of exactly size.
func (l *Ledger) CheckpointAt(ctx context.Context, size uint64) (Checkpoint, error) {
	cp, err := l.checkpointAt(ctx, size)
	if errors.Is(err, sql.ErrNoRows) {
		return Checkpoint{}, errNoCheckpoint.At("size")
	}
	return cp, err
}
