package casework

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/smtp"
	"strconv"
	"strings"
	"time"

	"shuqiao/internal/apperr"
	"shuqiao/internal/identity"
	"shuqiao/internal/store"
)

// WebhookConfig sends notifications as JSON POSTs. Each request carries
//
//	X-Shuqiao-Timestamp: <unix seconds>
//	X-Shuqiao-Signature: sha256=<hex HMAC-SHA256(Secret, timestamp + "." + body)>
//
// so the receiver can check origin and freshness.
type WebhookConfig struct {
	URL    string
	Secret string
}

// SMTPConfig sends notifications by email.
type SMTPConfig struct {
	// Addr is host:port of the mail server.
	Addr string
	From string
	// Username and Password, when set, authenticate with PLAIN (net/smtp
	// refuses PLAIN without TLS except to localhost).
	Username string
	Password string
	// To receives notifications whose recipients have no address.
	To []string
	// BaseURL, when set, links the case in the mail: BaseURL + "/cases/<id>".
	BaseURL string
}

// Recipient is whom a notification is for: a person, or the holders of a role.
type Recipient = Assignee

// Notification is a message in someone's inbox about a case.
type Notification struct {
	ID        string    `json:"id"`
	CaseID    string    `json:"case_id"`
	Kind      string    `json:"kind,omitempty"`
	Recipient Recipient `json:"recipient"`
	Action    string    `json:"action"`
	State     State     `json:"state"`
	TitleZH   string    `json:"title_zh"`
	TitleEN   string    `json:"title_en"`
	CreatedAt time.Time `json:"created_at"`
	Read      bool      `json:"read"`
}

// notify stores a notification for each active assignee and for the
// applicant, and queues their deliveries. Assignees the actor answers to
// are skipped: they have just acted.
func (e *Engine) notify(ctx context.Context, tx *store.Tx, k *Kind, c *Case, r record, actor string) error {
	var recips []Recipient
	for _, a := range c.Assignees {
		if r.p.Authenticated() && a.Matches(r.p) {
			continue
		}
		recips = append(recips, a)
	}
	if c.Applicant.ID != actor {
		app := Recipient{UserID: c.Applicant.ID}
		dup := false
		for _, a := range recips {
			dup = dup || a == app
		}
		if !dup {
			recips = append(recips, app)
		}
	}
	labelZH, labelEN := r.label[0], r.label[1]
	if labelZH == "" {
		labelZH = actionLabelsZH[r.action]
	}
	if labelEN == "" {
		labelEN = actionLabelsEN[r.action]
	}
	labelZH, labelEN = orDefault(labelZH, r.action), orDefault(labelEN, r.action)
	titleZH := fmt.Sprintf("【%s】%s：%s", orDefault(k.LabelZH, k.Name), c.Title, labelZH)
	titleEN := fmt.Sprintf("[%s] %s: %s", orDefault(k.LabelEN, k.Name), c.Title, labelEN)
	now := e.clock.Now()
	for _, rc := range recips {
		n := Notification{ID: store.NewID(), CaseID: c.ID, Kind: c.Kind, Recipient: rc, Action: r.action, State: c.State,
			TitleZH: titleZH, TitleEN: titleEN, CreatedAt: now}
		if _, err := tx.ExecContext(ctx, `INSERT INTO case_notifications (id, case_id, org_id, role, user_id, action, state, title_zh, title_en, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			n.ID, n.CaseID, rc.OrgID, string(rc.Role), rc.UserID, n.Action, string(n.State), n.TitleZH, n.TitleEN, store.Micros(now)); err != nil {
			return fmt.Errorf("casework: notification: %w", err)
		}
		body, _ := json.Marshal(n)
		for _, ch := range e.channels() {
			if _, err := tx.ExecContext(ctx, `INSERT INTO case_outbox (notification_id, channel, body, next_at, created_at) VALUES ($1, $2, $3, $4, $4)`,
				n.ID, ch, string(body), store.Micros(now)); err != nil {
				return fmt.Errorf("casework: outbox: %w", err)
			}
		}
	}
	return nil
}

var actionLabelsZH = map[string]string{"file": "已提交", "comment": "新评论", "attach": "新附件"}
var actionLabelsEN = map[string]string{"file": "filed", "comment": "new comment", "attach": "new attachment"}

func (e *Engine) channels() []string {
	var out []string
	if e.opts.Webhook.URL != "" {
		out = append(out, "webhook")
	}
	if e.opts.SMTP.Addr != "" {
		out = append(out, "smtp")
	}
	return out
}

// NotificationQuery filters a principal's notifications.
type NotificationQuery struct {
	UnreadOnly bool
	// After is the id of the last notification of the previous page; pages
	// run newest first.
	After string
	Limit int
}

// Notifications lists p's notifications, newest first, with the cursor of
// the next page ("" at the end).
func (e *Engine) Notifications(ctx context.Context, p identity.Principal, q NotificationQuery) ([]Notification, string, error) {
	if !p.Authenticated() {
		return nil, "", apperr.ErrAuth
	}
	limit := clampLimit(q.Limit)
	me := actorID(p)
	args := []any{me}
	where := `(n.user_id = $1`
	if len(p.Roles) > 0 {
		args = append(args, p.OrgID)
		where += ` OR (n.user_id = '' AND (n.org_id = '' OR n.org_id = $2) AND n.role IN (` + placeholders(&args, rolesAny(p.Roles)) + `))`
	}
	where += `)`
	if q.UnreadOnly {
		where += ` AND r.read_at IS NULL`
	}
	if q.After != "" {
		args = append(args, q.After)
		where += fmt.Sprintf(` AND n.id < $%d`, len(args))
	}
	args = append(args, limit+1)
	rows, err := e.db.QueryContext(ctx, `SELECT n.id, n.case_id, c.kind, n.org_id, n.role, n.user_id, n.action, n.state, n.title_zh, n.title_en, n.created_at, r.read_at
		FROM case_notifications n JOIN cases c ON c.id = n.case_id
		LEFT JOIN case_notification_reads r ON r.notification_id = n.id AND r.reader_id = $1
		WHERE `+where+fmt.Sprintf(` ORDER BY n.id DESC LIMIT $%d`, len(args)), args...)
	if err != nil {
		return nil, "", fmt.Errorf("casework: notifications: %w", err)
	}
	defer rows.Close()
	var out []Notification
	for rows.Next() {
		var n Notification
		var created int64
		var readAt *int64
		if err := rows.Scan(&n.ID, &n.CaseID, &n.Kind, &n.Recipient.OrgID, &n.Recipient.Role, &n.Recipient.UserID, &n.Action, &n.State,
			&n.TitleZH, &n.TitleEN, &created, &readAt); err != nil {
			return nil, "", err
		}
		n.CreatedAt, n.Read = store.FromMicros(created), readAt != nil
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].ID
	}
	return out, next, nil
}

// MarkRead marks notifications read for p. Ids that are not p's are ignored.
func (e *Engine) MarkRead(ctx context.Context, p identity.Principal, ids []string) error {
	if !p.Authenticated() {
		return apperr.ErrAuth
	}
	if len(ids) > 500 {
		return apperr.Invalidf("casework.too_many_ids", "ids", "一次最多标记 500 条", "at most 500 ids at a time")
	}
	now := store.Micros(e.clock.Now())
	return e.db.InTx(ctx, func(tx *store.Tx) error {
		for _, id := range ids {
			var rc Recipient
			err := tx.QueryRowContext(ctx, `SELECT org_id, role, user_id FROM case_notifications WHERE id = $1`, id).Scan(&rc.OrgID, &rc.Role, &rc.UserID)
			if err != nil {
				continue
			}
			if !rc.Matches(p) {
				continue
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO case_notification_reads (notification_id, reader_id, read_at) VALUES ($1, $2, $3)
				ON CONFLICT (notification_id, reader_id) DO NOTHING`, id, actorID(p), now); err != nil {
				return fmt.Errorf("casework: mark read: %w", err)
			}
		}
		return nil
	})
}

// wake tells a running delivery loop that the outbox has work. It never blocks.
func (e *Engine) wake() {
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

// DeliverOutbox sends the notifications that are due, by webhook and email,
// and returns how many were delivered. A failed delivery is retried later
// with exponential back-off, up to Options.MaxAttempts; it never affects the
// case. Replicas may run it concurrently: each row is claimed first.
func (e *Engine) DeliverOutbox(ctx context.Context) (int, error) {
	delivered := 0
	for {
		now := e.clock.Now()
		rows, err := e.db.QueryContext(ctx, `SELECT id, channel, body, attempts FROM case_outbox
			WHERE delivered_at = 0 AND failed = 0 AND next_at <= $1 AND claimed_until <= $1 ORDER BY id LIMIT 50`, store.Micros(now))
		if err != nil {
			return delivered, fmt.Errorf("casework: outbox: %w", err)
		}
		type job struct {
			id       int64
			channel  string
			body     string
			attempts int
		}
		var jobs []job
		for rows.Next() {
			var j job
			if err := rows.Scan(&j.id, &j.channel, &j.body, &j.attempts); err != nil {
				rows.Close()
				return delivered, err
			}
			jobs = append(jobs, j)
		}
		rows.Close()
		if len(jobs) == 0 {
			return delivered, nil
		}
		progressed := false
		for _, j := range jobs {
			res, err := e.db.ExecContext(ctx, `UPDATE case_outbox SET claimed_until = $1 WHERE id = $2 AND claimed_until <= $3 AND delivered_at = 0`,
				store.Micros(now.Add(2*time.Minute)), j.id, store.Micros(now))
			if err != nil {
				return delivered, fmt.Errorf("casework: outbox claim: %w", err)
			}
			if n, _ := res.RowsAffected(); n != 1 {
				continue
			}
			progressed = true
			sendErr := e.send(ctx, j.channel, []byte(j.body))
			done := e.clock.Now()
			if sendErr == nil {
				delivered++
				_, err = e.db.ExecContext(ctx, `UPDATE case_outbox SET delivered_at = $1, attempts = attempts + 1, claimed_until = 0, last_error = '' WHERE id = $2`,
					store.Micros(done), j.id)
			} else {
				attempts := j.attempts + 1
				failed := 0
				if attempts >= e.opts.MaxAttempts {
					failed = 1
				}
				backoff := e.opts.RetryBase << min(attempts-1, 16)
				msg := sendErr.Error()
				if len(msg) > 500 {
					msg = msg[:500]
				}
				e.log.WarnContext(ctx, "casework: notification delivery failed", "channel", j.channel, "outbox_id", j.id, "attempt", attempts, "err", sendErr)
				_, err = e.db.ExecContext(ctx, `UPDATE case_outbox SET attempts = $1, failed = $2, next_at = $3, claimed_until = 0, last_error = $4 WHERE id = $5`,
					attempts, failed, store.Micros(done.Add(backoff)), msg, j.id)
			}
			if err != nil {
				return delivered, fmt.Errorf("casework: outbox update: %w", err)
			}
		}
		if !progressed {
			return delivered, nil
		}
	}
}

// OutboxStatus counts the outbox rows by state, for operations.
type OutboxStatus struct {
	Pending   int `json:"pending"`
	Delivered int `json:"delivered"`
	Failed    int `json:"failed"`
}

// Outbox reports the outbox's state.
func (e *Engine) Outbox(ctx context.Context) (OutboxStatus, error) {
	var s OutboxStatus
	err := e.db.QueryRowContext(ctx, `SELECT
		COALESCE(SUM(CASE WHEN delivered_at = 0 AND failed = 0 THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN delivered_at <> 0 THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN failed <> 0 THEN 1 ELSE 0 END), 0) FROM case_outbox`).Scan(&s.Pending, &s.Delivered, &s.Failed)
	return s, err
}

func (e *Engine) send(ctx context.Context, channel string, body []byte) error {
	switch channel {
	case "webhook":
		return e.sendWebhook(ctx, body)
	case "smtp":
		return e.sendMail(ctx, body)
	}
	return fmt.Errorf("unknown channel %q", channel)
}

// Sign returns the X-Shuqiao-Signature value for body sent at timestamp ts.
func Sign(secret string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte("."))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func (e *Engine) sendWebhook(ctx context.Context, body []byte) error {
	cfg := e.opts.Webhook
	if cfg.URL == "" {
		return errors.New("webhook is not configured")
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	ts := e.clock.Now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "shuqiao-casework")
	req.Header.Set("X-Shuqiao-Event", "case.notification")
	req.Header.Set("X-Shuqiao-Timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("X-Shuqiao-Signature", Sign(cfg.Secret, ts, body))
	resp, err := e.opts.HTTPClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("webhook answered %s", resp.Status)
	}
	return nil
}

func (e *Engine) sendMail(ctx context.Context, body []byte) error {
	cfg := e.opts.SMTP
	var n Notification
	if err := json.Unmarshal(body, &n); err != nil {
		return err
	}
	var to []string
	if e.opts.AddressBook != nil {
		addrs, err := e.opts.AddressBook(ctx, n.Recipient)
		if err != nil {
			return err
		}
		to = addrs
	}
	if len(to) == 0 {
		to = cfg.To
	}
	if len(to) == 0 {
		return nil // nobody to mail: delivered as far as email goes
	}
	host, _, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return err
	}
	d := net.Dialer{Timeout: 10 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", cfg.Addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(60 * time.Second))
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello("shuqiao"); err != nil {
		return err
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(&tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}); err != nil {
			return err
		}
	}
	if cfg.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", cfg.Username, cfg.Password, host)); err != nil {
			return err
		}
	}
	if err := c.Mail(cfg.From); err != nil {
		return err
	}
	for _, addr := range to {
		if err := c.Rcpt(addr); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(e.mailMessage(cfg, to, n)); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

func (e *Engine) mailMessage(cfg SMTPConfig, to []string, n Notification) []byte {
	var text strings.Builder
	text.WriteString(n.TitleZH + "\r\n" + n.TitleEN + "\r\n\r\n")
	text.WriteString("案件编号 Case: " + n.CaseID + "\r\n")
	text.WriteString("状态 State: " + string(n.State) + "\r\n")
	if cfg.BaseURL != "" {
		text.WriteString(strings.TrimRight(cfg.BaseURL, "/") + "/cases/" + n.CaseID + "\r\n")
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: %s\r\n", cfg.From)
	fmt.Fprintf(&b, "To: %s\r\n", strings.Join(to, ", "))
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.BEncoding.Encode("UTF-8", n.TitleZH))
	fmt.Fprintf(&b, "Date: %s\r\n", e.clock.Now().Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%s@shuqiao>\r\n", n.ID)
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	enc := base64.StdEncoding.EncodeToString([]byte(text.String()))
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n")
	return b.Bytes()
}

func clampLimit(n int) int {
	if n <= 0 {
		return 50
	}
	if n > 500 {
		return 500
	}
	return n
}

func rolesAny(roles []identity.Role) []any {
	out := make([]any, len(roles))
	for i, r := range roles {
		out[i] = string(r)
	}
	return out
}

// placeholders appends vals to args and returns "$i, $j, …" for them.
func placeholders(args *[]any, vals []any) string {
	var b strings.Builder
	for i, v := range vals {
		*args = append(*args, v)
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "$%d", len(*args))
	}
	return b.String()
}
