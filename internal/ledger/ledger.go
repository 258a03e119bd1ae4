package ledger

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"

	"shuqiao/internal/clock"
	"shuqiao/internal/store"
)

//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrations embed.FS

// Algorithm names the checkpoint signature algorithm.
type Algorithm string

const (
	// Ed25519 is the default (C2SP signed-note type 0x01).
	Ed25519 Algorithm = "ed25519"
	// SM2 is SM2 with SM3 (GB/T 32918), for deployments evaluated on the
	// national algorithms; see sm2note.go for the key format.
	SM2 Algorithm = "sm2"
)

// DefaultOrigin is the checkpoint origin when none is configured.
const DefaultOrigin = "shuqiao.local/ledger"

// Options tune a Ledger. The zero value is the default.
type Options struct {
	// Origin is the checkpoint's first line and the signing key's name, e.g.
	// "shuqiao.xiamen/ledger". Default DefaultOrigin.
	Origin string
	// Algorithm is Ed25519 (default) or SM2.
	Algorithm Algorithm
	// SignerKey, when set, is a note private key ("PRIVATE+KEY+…", Ed25519 as
	// golang.org/x/mod/sumdb/note writes it, or SM2 as GenerateSM2Key writes
	// it). Its name must equal Origin. When empty, a key is generated on first
	// start and kept in ledger_keys.
	SignerKey string
	// CheckpointInterval is the least time between two signed checkpoints in
	// Run (default 1s).
	CheckpointInterval time.Duration
	// PollInterval is how often Run looks for pending events without a nudge
	// (default 250ms).
	PollInterval time.Duration
	// BatchDelay is how long Run waits after a nudge before integrating, so
	// one integration takes the events of many transactions (default 100ms:
	// on SQLite every integration is a turn at the one write lock, and a
	// business transaction that finds it taken sleeps in SQLite's busy
	// handler for at least 1ms, so fewer, larger turns cost business writes
	// less; checkpoints are signed at most once per CheckpointInterval
	// anyway; decision 0025).
	BatchDelay time.Duration
	// BatchSize bounds the events integrated per transaction (default 4096).
	BatchSize int
	// Log receives the background loop's errors (default slog.Default()).
	Log *slog.Logger
}

func (o *Options) defaults() {
	if o.Origin == "" {
		o.Origin = DefaultOrigin
	}
	if o.Algorithm == "" {
		o.Algorithm = Ed25519
	}
	if o.CheckpointInterval <= 0 {
		o.CheckpointInterval = time.Second
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 250 * time.Millisecond
	}
	if o.BatchDelay <= 0 {
		o.BatchDelay = 100 * time.Millisecond
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 4096
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
}

// Ledger appends events and answers for them.
type Ledger struct {
	db    *store.DB
	clock clock.Clock
	opts  Options

	signer    note.Signer
	verifiers note.Verifiers // every checkpoint key this store has known
	vkey      string         // the current signer's verifier key
	lookupKey []byte         // keys the subject lookup HMAC

	nudge chan struct{}
	mu    sync.Mutex // serialises Integrate within this process

	pending *store.RowInserter // Append's inserts, prepared on the pool
	seq     *sequencer         // SQLite: Append sequences in the caller's transaction
}

// New returns the ledger over db, migrating its tables and loading (or, on
// first start, creating) its keys. opts, if given, tunes it; only the first is
// used.
func New(ctx context.Context, db *store.DB, clk clock.Clock, opts ...Options) (*Ledger, error) {
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.SignerKey != "" {
		// A supplied key says its own algorithm; a configured one must agree.
		if _, alg, err := NewSigner(o.SignerKey); err == nil {
			if o.Algorithm != "" && o.Algorithm != alg {
				return nil, fmt.Errorf("ledger: the signer key is %s but the algorithm is set to %s", alg, o.Algorithm)
			}
			o.Algorithm = alg
		}
	}
	o.defaults()
	if o.Algorithm != Ed25519 && o.Algorithm != SM2 {
		return nil, fmt.Errorf("ledger: algorithm %q: want ed25519 or sm2", o.Algorithm)
	}
	if !validKeyName(o.Origin) {
		return nil, fmt.Errorf("ledger: origin %q is not a valid key name", o.Origin)
	}
	if clk == nil {
		clk = clock.Real{}
	}
	dir := "migrations/sqlite"
	if db.Dialect == store.Postgres {
		dir = "migrations/postgres"
	}
	if err := db.Migrate(ctx, "ledger", migrations, dir); err != nil {
		return nil, err
	}
	l := &Ledger{db: db, clock: clk, opts: o, nudge: make(chan struct{}, 1),
		pending: store.NewRowInserter(db, `INSERT INTO ledger_pending (body, created_at) VALUES `, 2)}
	if err := l.initTree(ctx); err != nil {
		return nil, err
	}
	if err := l.pending.Prepare(ctx); err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	if db.Dialect == store.SQLite {
		seq, err := newSequencer(ctx, db)
		if err != nil {
			return nil, err
		}
		l.seq = seq
	}
	if err := l.loadKeys(ctx); err != nil {
		return nil, err
	}
	return l, nil
}

// Origin is the checkpoints' origin line.
func (l *Ledger) Origin() string { return l.opts.Origin }

// VerifierKey is the public key that verifies this ledger's checkpoints, as
// a note verifier key string ("<origin>+<hash>+<base64>"). Give it to anyone
// who checks proofs offline.
func (l *Ledger) VerifierKey() string { return l.vkey }

// Nudge tells the background integrator that events were committed. Callers
// may call it after committing a transaction that appended; Append calls it
// too, and Run also polls, so it is only a hint.
func (l *Ledger) Nudge() {
	select {
	case l.nudge <- struct{}{}:
	default:
	}
}

// Append adds events inside the caller's transaction; if tx rolls back they
// vanish with it (R-SEC-2: an event exists exactly when its change commits).
// They are queued with the change, one row each, and sequenced into the log
// and the Merkle tree after commit: by the integrator (Run), or on SQLite
// by the next AppendSealed, whichever comes first (decision 0111). A
// business transaction so pays for one insert, not for the tree.
func (l *Ledger) Append(ctx context.Context, tx *store.Tx, events ...Event) error {
	if len(events) == 0 {
		return nil
	}
	sealed := make([]Sealed, len(events))
	for i := range events {
		var err error
		if sealed[i], err = l.Seal(events[i]); err != nil {
			return err
		}
	}
	return l.enqueue(ctx, tx, sealed)
}

// Sealed is an event fixed in the bytes its entry will hold. A caller that
// must name the entry before it exists (a delivery receipt carries its
// event's hash) seals the event, hashes Body, and appends the Sealed: what
// it named is then what is logged, byte for byte.
type Sealed struct {
	body   []byte
	fields indexedFields
}

// Body is the entry body: the event's canonical JSON.
func (s Sealed) Body() []byte { return s.body }

// Seal validates e and fixes its encoding; a zero Time is now.
func (l *Ledger) Seal(e Event) (Sealed, error) {
	if e.Time.IsZero() {
		e.Time = l.clock.Now()
	}
	e.Time = e.Time.UTC().Truncate(time.Microsecond)
	if err := e.validate(); err != nil {
		return Sealed{}, err
	}
	body, err := json.Marshal(e)
	if err != nil {
		return Sealed{}, fmt.Errorf("ledger: encode event: %w", err)
	}
	return Sealed{body: body, fields: indexedFields{Time: e.Time, Action: e.Action, ActorID: e.ActorID, OrgID: e.OrgID,
		ResourceID: e.ResourceID, GrantID: e.GrantID, ContentHash: e.ContentHash, Subjects: e.Subjects}}, nil
}

// AppendSealed is Append for events already sealed, for a caller that
// commits the events of many requests at once (the gate's group commit).
// On SQLite they are sequenced into the log and the Merkle tree in tx
// itself (sequence.go, decision 0107), after the events queued before them,
// which tx sequences first (up to drainMax of them; past that, these queue
// behind the rest). On PostgreSQL they are queued as Append queues them.
func (l *Ledger) AppendSealed(ctx context.Context, tx *store.Tx, events ...Sealed) error {
	if len(events) == 0 {
		return nil
	}
	for _, e := range events {
		if e.body == nil {
			return errInvalidEvent.At("sealed")
		}
	}
	if l.seq != nil {
		bodies := make([][]byte, len(events))
		fields := make([]indexedFields, len(events))
		for i, e := range events {
			bodies[i], fields[i] = e.body, e.fields
		}
		err := l.seq.append(ctx, tx, store.Micros(l.clock.Now()), bodies, fields)
		if err == nil {
			// Run signs a checkpoint over them.
			l.Nudge()
			return nil
		}
		if !errors.Is(err, errQueued) {
			return err
		}
	}
	return l.enqueue(ctx, tx, events)
}

// enqueue queues sealed events in tx for the integrator (Seal made them,
// or AppendSealed checked them).
func (l *Ledger) enqueue(ctx context.Context, tx *store.Tx, events []Sealed) error {
	// Prepared statements of a few fixed sizes keep the cost inside
	// business transactions low, whatever the number of events.
	args := make([]any, 0, 2*len(events))
	for _, e := range events {
		args = append(args, e.body, store.Micros(e.fields.Time))
	}
	if err := l.pending.Insert(ctx, tx, args); err != nil {
		return fmt.Errorf("ledger: append: %w", err)
	}
	l.Nudge()
	return nil
}

// validKeyName reports whether name can name a note key: non-empty, no
// spaces, no '+' (golang.org/x/mod/sumdb/note's rule).
func validKeyName(name string) bool {
	return name != "" && utf8.ValidString(name) && strings.IndexFunc(name, unicode.IsSpace) < 0 && !strings.Contains(name, "+")
}
