package casework

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"
	"time"
	"unicode/utf8"

	"shuqiao/internal/apperr"
	"shuqiao/internal/identity"
	"shuqiao/internal/store"
)

const maxComment = 20000

// Comment adds a comment to a case that p may see. Comments are part of the
// history and ledger decide events; they do not change the state.
func (e *Engine) Comment(ctx context.Context, p identity.Principal, caseID, body string) (*Entry, error) {
	if !p.Authenticated() {
		return nil, apperr.ErrAuth
	}
	body = strings.TrimSpace(body)
	if body == "" {
		return nil, ErrCommentEmpty.At("body")
	}
	if utf8.RuneCountInString(body) > maxComment {
		return nil, apperr.Invalidf("casework.comment_too_long", "body", "评论过长（最多 %d 字）", "the comment is too long (at most %d characters)", maxComment)
	}
	var entry *Entry
	err := e.db.InTx(ctx, func(tx *store.Tx) error {
		c, k, err := e.visibleForUpdate(ctx, tx, p, caseID)
		if err != nil {
			return err
		}
		if err := e.record(ctx, tx, k, c, record{action: "comment", p: p, reason: body, notify: true}); err != nil {
			return err
		}
		entry, err = e.lastEntry(ctx, tx, c.ID)
		return err
	})
	if err != nil {
		return nil, err
	}
	e.wake()
	return entry, nil
}

func (e *Engine) visibleForUpdate(ctx context.Context, tx *store.Tx, p identity.Principal, caseID string) (*Case, *Kind, error) {
	c, err := e.loadCase(ctx, tx, caseID, true)
	if err != nil {
		return nil, nil, err
	}
	if ok, err := e.canView(ctx, tx, p, c); err != nil {
		return nil, nil, err
	} else if !ok {
		return nil, nil, ErrNotFound
	}
	k, ok := e.kind(c.Kind)
	if !ok {
		return nil, nil, ErrUnknownKind
	}
	return c, k, nil
}

func (e *Engine) lastEntry(ctx context.Context, q store.Queryer, caseID string) (*Entry, error) {
	var en Entry
	var at int64
	var from, to, detail string
	err := q.QueryRowContext(ctx, `SELECT id, at, actor_kind, actor_id, actor_org, action, from_state, to_state, level, body, detail
		FROM case_events WHERE case_id = $1 ORDER BY id DESC LIMIT 1`, caseID).
		Scan(&en.ID, &at, &en.ActorKind, &en.ActorID, &en.ActorOrg, &en.Action, &from, &to, &en.Level, &en.Body, &detail)
	if err != nil {
		return nil, fmt.Errorf("casework: history: %w", err)
	}
	en.At, en.From, en.To = store.FromMicros(at), State(from), State(to)
	if detail != "" {
		en.Detail = []byte(detail)
	}
	return &en, nil
}

// Attachment describes a file attached to a case; Data is filled only by
// OpenAttachment.
type Attachment struct {
	ID          string    `json:"id"`
	CaseID      string    `json:"case_id"`
	Name        string    `json:"name"`
	ContentType string    `json:"content_type"`
	Size        int64     `json:"size"`
	SHA256      string    `json:"sha256"`
	UploadedBy  string    `json:"uploaded_by"`
	UploadedOrg string    `json:"uploaded_org"`
	CreatedAt   time.Time `json:"created_at"`
	Data        []byte    `json:"-"`
}

// ErrAttachmentTooLarge is returned for a file over Options.MaxAttachment.
var ErrAttachmentTooLarge = apperr.New(apperr.TooLarge, "casework.attachment_too_large", "附件超过大小上限", "the attachment is larger than the limit")

var (
	errAttachmentName   = apperr.New(apperr.Invalid, "casework.attachment_name", "附件须有文件名（最多 255 字，不含路径）", "an attachment needs a file name (at most 255 characters, no path)")
	errAttachmentEmpty  = apperr.New(apperr.Invalid, "casework.attachment_empty", "附件为空", "the attachment is empty")
	errAttachmentClosed = apperr.New(apperr.Conflict, "casework.attachment_closed", "案件已办结，不能再添加附件", "the case is closed; no more attachments")
)

// MaxAttachment is the configured size limit for one attachment in bytes.
func (e *Engine) MaxAttachment() int64 { return e.opts.MaxAttachment }

// Attach stores a file on an open case that p may see, with its SHA-256 and
// size. It reads at most MaxAttachment+1 bytes from r and refuses a larger
// file with ErrAttachmentTooLarge.
func (e *Engine) Attach(ctx context.Context, p identity.Principal, caseID, name, contentType string, r io.Reader) (*Attachment, error) {
	if !p.Authenticated() {
		return nil, apperr.ErrAuth
	}
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > 255 || strings.ContainsAny(name, "/\\\x00") || !utf8.ValidString(name) {
		return nil, errAttachmentName.At("name")
	}
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	if mt, _, err := mime.ParseMediaType(contentType); err != nil {
		contentType = "application/octet-stream"
	} else {
		contentType = mt
	}
	max := e.opts.MaxAttachment
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, fmt.Errorf("casework: read attachment: %w", err)
	}
	if int64(len(data)) > max {
		return nil, ErrAttachmentTooLarge.At(fmt.Sprintf("limit %d bytes", max))
	}
	if len(data) == 0 {
		return nil, errAttachmentEmpty.At("file")
	}
	sum := sha256.Sum256(data)
	a := &Attachment{ID: store.NewID(), CaseID: caseID, Name: name, ContentType: contentType, Size: int64(len(data)),
		SHA256: hex.EncodeToString(sum[:]), UploadedBy: actorID(p), UploadedOrg: p.OrgID, CreatedAt: e.clock.Now()}
	err = e.db.InTx(ctx, func(tx *store.Tx) error {
		c, k, err := e.visibleForUpdate(ctx, tx, p, caseID)
		if err != nil {
			return err
		}
		if c.Phase == PhaseClosed {
			return errAttachmentClosed
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO case_attachments (id, case_id, name, content_type, size, sha256, data, uploaded_by, uploaded_org, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			a.ID, a.CaseID, a.Name, a.ContentType, a.Size, a.SHA256, data, a.UploadedBy, a.UploadedOrg, store.Micros(a.CreatedAt)); err != nil {
			return fmt.Errorf("casework: store attachment: %w", err)
		}
		return e.record(ctx, tx, k, c, record{action: "attach", p: p, hash: a.SHA256, notify: true,
			detail: map[string]any{"attachment": a.ID, "name": a.Name, "size": a.Size, "sha256": a.SHA256}})
	})
	if err != nil {
		return nil, err
	}
	e.wake()
	return a, nil
}

// Attachments lists the files on a case that p may see (without their bytes).
func (e *Engine) Attachments(ctx context.Context, p identity.Principal, caseID string) ([]Attachment, error) {
	if _, err := e.Get(ctx, p, caseID); err != nil {
		return nil, err
	}
	rows, err := e.db.QueryContext(ctx, `SELECT id, case_id, name, content_type, size, sha256, uploaded_by, uploaded_org, created_at
		FROM case_attachments WHERE case_id = $1 ORDER BY id`, caseID)
	if err != nil {
		return nil, fmt.Errorf("casework: attachments: %w", err)
	}
	defer rows.Close()
	out := []Attachment{}
	for rows.Next() {
		var a Attachment
		var created int64
		if err := rows.Scan(&a.ID, &a.CaseID, &a.Name, &a.ContentType, &a.Size, &a.SHA256, &a.UploadedBy, &a.UploadedOrg, &created); err != nil {
			return nil, err
		}
		a.CreatedAt = store.FromMicros(created)
		out = append(out, a)
	}
	return out, rows.Err()
}

// OpenAttachment returns one attachment with its bytes, checking that they
// still match the recorded SHA-256.
func (e *Engine) OpenAttachment(ctx context.Context, p identity.Principal, caseID, id string) (*Attachment, error) {
	if _, err := e.Get(ctx, p, caseID); err != nil {
		return nil, err
	}
	var a Attachment
	var created int64
	err := e.db.QueryRowContext(ctx, `SELECT id, case_id, name, content_type, size, sha256, data, uploaded_by, uploaded_org, created_at
		FROM case_attachments WHERE case_id = $1 AND id = $2`, caseID, id).
		Scan(&a.ID, &a.CaseID, &a.Name, &a.ContentType, &a.Size, &a.SHA256, &a.Data, &a.UploadedBy, &a.UploadedOrg, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, apperr.New(apperr.NotFound, "casework.attachment_not_found", "未找到该附件", "attachment not found")
	}
	if err != nil {
		return nil, fmt.Errorf("casework: attachment: %w", err)
	}
	a.CreatedAt = store.FromMicros(created)
	if got := sha256.Sum256(a.Data); hex.EncodeToString(got[:]) != a.SHA256 {
		return nil, fmt.Errorf("casework: attachment %s does not match its SHA-256", a.ID)
	}
	return &a, nil
}
