package casework_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"shuqiao/internal/casework"
	"shuqiao/internal/identity"
	"shuqiao/internal/store"
	"shuqiao/internal/store/storetest"
)

type hookServer struct {
	mu       sync.Mutex
	got      []casework.Notification
	failures int // answer 500 this many times first
	badSig   int
	srv      *httptest.Server
}

func newHookServer(t *testing.T, secret string) *hookServer {
	h := &hookServer{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ts, _ := strconv.ParseInt(r.Header.Get("X-Shuqiao-Timestamp"), 10, 64)
		h.mu.Lock()
		defer h.mu.Unlock()
		if r.Header.Get("X-Shuqiao-Signature") != casework.Sign(secret, ts, body) || r.Header.Get("Content-Type") != "application/json" {
			h.badSig++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if h.failures > 0 {
			h.failures--
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		var n casework.Notification
		if err := json.Unmarshal(body, &n); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		h.got = append(h.got, n)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookServer) received() []casework.Notification {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]casework.Notification(nil), h.got...)
}

// smtpServer is a tiny SMTP listener on 127.0.0.1 that records messages.
type smtpServer struct {
	addr string
	mu   sync.Mutex
	msgs []smtpMsg
}

type smtpMsg struct {
	from string
	to   []string
	data string
}

func newSMTPServer(t *testing.T) *smtpServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{addr: ln.Addr().String()}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(conn)
		}
	}()
	return s
}

func (s *smtpServer) serve(conn net.Conn) {
	defer conn.Close()
	r := bufio.NewReader(conn)
	say := func(line string) { _, _ = io.WriteString(conn, line+"\r\n") }
	say("220 test ESMTP")
	var m smtpMsg
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			say("250-test")
			say("250 8BITMIME")
		case strings.HasPrefix(cmd, "MAIL FROM:"):
			m = smtpMsg{from: addrOf(line[10:])}
			say("250 ok")
		case strings.HasPrefix(cmd, "RCPT TO:"):
			m.to = append(m.to, addrOf(line[8:]))
			say("250 ok")
		case cmd == "DATA":
			say("354 go ahead")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(l)
			}
			m.data = b.String()
			s.mu.Lock()
			s.msgs = append(s.msgs, m)
			s.mu.Unlock()
			say("250 queued")
		case cmd == "QUIT":
			say("221 bye")
			return
		default:
			say("250 ok")
		}
	}
}

// addrOf takes the address out of "<a@b> BODY=8BITMIME".
func addrOf(arg string) string {
	arg = strings.TrimSpace(arg)
	if i := strings.IndexByte(arg, '>'); i >= 0 {
		arg = arg[:i]
	}
	return strings.TrimPrefix(arg, "<")
}

func (s *smtpServer) messages() []smtpMsg {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]smtpMsg(nil), s.msgs...)
}

// Notifications are stored for the inbox and delivered after commit by
// webhook (HMAC-signed) and SMTP, with retries; delivery never touches the
// case.
func TestNotificationsOutbox(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		hook := newHookServer(t, "s3cret")
		mail := newSMTPServer(t)
		book := func(_ context.Context, r casework.Recipient) ([]string, error) {
			if r.UserID == citizen.UserID {
				return []string{"citizen@example.cn"}, nil
			}
			return nil, nil // everyone else: the fallback list
		}
		f := newFixture(t, db, at(2026, 3, 2, 10), casework.Options{
			Webhook:     casework.WebhookConfig{URL: hook.srv.URL, Secret: "s3cret"},
			SMTP:        casework.SMTPConfig{Addr: mail.addr, From: "shuqiao@example.cn", To: []string{"duty@example.cn"}, BaseURL: "https://data.example.cn"},
			AddressBook: book,
			RetryBase:   time.Minute,
			MaxAttempts: 3,
		})
		hook.failures = 1 // the first webhook call fails

		c := f.file(t, citizen, complaintFiling())    // notifies the security officers (role)
		f.act(t, securityOfficer, c.ID, "accept", "") // notifies the citizen (user)

		if st, err := f.eng.Outbox(ctx); err != nil || st.Pending != 4 {
			t.Fatalf("outbox before delivery: %+v %v (want 2 notifications × 2 channels)", st, err)
		}
		n, err := f.eng.DeliverOutbox(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n != 3 {
			t.Fatalf("delivered %d, want 3 (one webhook call failed)", n)
		}
		// Not due yet: the retry waits for its back-off.
		if n, _ := f.eng.DeliverOutbox(ctx); n != 0 {
			t.Fatalf("retried before the back-off: %d", n)
		}
		f.clk.Advance(2 * time.Minute)
		if n, _ := f.eng.DeliverOutbox(ctx); n != 1 {
			t.Fatalf("retry delivered %d, want 1", n)
		}
		if st, _ := f.eng.Outbox(ctx); st.Pending != 0 || st.Delivered != 4 || st.Failed != 0 {
			t.Fatalf("outbox after retry: %+v", st)
		}
		got := hook.received()
		if len(got) != 2 || hook.badSig != 0 {
			t.Fatalf("webhook got %d notifications (%d bad signatures)", len(got), hook.badSig)
		}
		byRecipient := map[string]casework.Notification{}
		for _, n := range got {
			byRecipient[string(n.Recipient.Role)+n.Recipient.UserID] = n
		}
		if n, ok := byRecipient[string(identity.RoleSecurityOfficer)]; !ok || n.Action != "file" || n.CaseID != c.ID || !strings.Contains(n.TitleZH, "投诉举报") {
			t.Fatalf("officer notification: %+v", byRecipient)
		}
		if n, ok := byRecipient[citizen.UserID]; !ok || n.Action != "accept" || n.State != "accepted" {
			t.Fatalf("citizen notification: %+v", byRecipient)
		}
		msgs := mail.messages()
		if len(msgs) != 2 {
			t.Fatalf("smtp got %d messages", len(msgs))
		}
		var toCitizen, toDuty bool
		for _, m := range msgs {
			if m.from != "shuqiao@example.cn" {
				t.Errorf("mail from %q", m.from)
			}
			toCitizen = toCitizen || (len(m.to) == 1 && m.to[0] == "citizen@example.cn")
			toDuty = toDuty || (len(m.to) == 1 && m.to[0] == "duty@example.cn")
			if !strings.Contains(m.data, "Subject: =?UTF-8?b?") || !strings.Contains(m.data, "charset=UTF-8") {
				t.Errorf("mail headers: %s", m.data)
			}
			if body := decodeMailBody(t, m.data); !strings.Contains(body, c.ID) || !strings.Contains(body, "https://data.example.cn/cases/"+c.ID) {
				t.Errorf("mail body: %s", body)
			}
		}
		if !toCitizen || !toDuty {
			t.Fatalf("mail recipients: %+v", msgs)
		}

		// A webhook that keeps failing gives up after MaxAttempts; the case
		// is unaffected.
		hook.mu.Lock()
		hook.failures = 100
		hook.mu.Unlock()
		c2 := f.act(t, securityOfficer, c.ID, "resolve", "已处理")
		for i := 0; i < 5; i++ {
			_, _ = f.eng.DeliverOutbox(ctx)
			f.clk.Advance(time.Hour)
		}
		if st, _ := f.eng.Outbox(ctx); st.Failed != 1 || st.Pending != 0 {
			t.Fatalf("outbox after repeated failures: %+v", st)
		}
		if got := f.get(t, citizen, c2.ID); got.State != "resolved" {
			t.Fatalf("delivery failure touched the case: %s", got.State)
		}

		// The inbox shows the stored notifications and marks them read.
		list, _, err := f.eng.Notifications(ctx, citizen, casework.NotificationQuery{})
		if err != nil || len(list) != 2 {
			t.Fatalf("citizen notifications: %d %v", len(list), err)
		}
		if list[0].Action != "resolve" || list[0].Read {
			t.Fatalf("newest first, unread: %+v", list[0])
		}
		officerList, _, err := f.eng.Notifications(ctx, securityOfficer, casework.NotificationQuery{})
		if err != nil || len(officerList) != 1 || officerList[0].Action != "file" {
			t.Fatalf("officer notifications: %+v %v", officerList, err)
		}
		if l, _, _ := f.eng.Notifications(ctx, deptAdmin, casework.NotificationQuery{}); len(l) != 0 {
			t.Fatalf("an unrelated user sees notifications: %+v", l)
		}
		// Marking someone else's notification read does nothing.
		if err := f.eng.MarkRead(ctx, deptAdmin, []string{list[0].ID}); err != nil {
			t.Fatal(err)
		}
		if err := f.eng.MarkRead(ctx, citizen, []string{list[0].ID}); err != nil {
			t.Fatal(err)
		}
		unread, _, _ := f.eng.Notifications(ctx, citizen, casework.NotificationQuery{UnreadOnly: true})
		if len(unread) != 1 || unread[0].ID != list[1].ID {
			t.Fatalf("unread after marking: %+v", unread)
		}
		page, next, _ := f.eng.Notifications(ctx, citizen, casework.NotificationQuery{Limit: 1})
		page2, next2, _ := f.eng.Notifications(ctx, citizen, casework.NotificationQuery{Limit: 1, After: next})
		if len(page) != 1 || len(page2) != 1 || next == "" || next2 != "" || page2[0].ID != list[1].ID {
			t.Fatalf("notification pages: %v %q %v %q", page, next, page2, next2)
		}
	})
}

func decodeMailBody(t *testing.T, data string) string {
	t.Helper()
	_, body, ok := strings.Cut(data, "\r\n\r\n")
	if !ok {
		t.Fatalf("no body in %q", data)
	}
	b, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(strings.TrimSpace(body), "\r\n", ""))
	if err != nil {
		t.Fatalf("body is not base64: %v", err)
	}
	return string(b)
}

// Run delivers notifications soon after a decision commits, without the
// caller waiting for it.
func TestRunDeliversAfterCommit(t *testing.T) {
	db := storetest.OpenTestSQLite(t)
	hook := newHookServer(t, "k")
	f := newFixture(t, db, at(2026, 3, 2, 10), casework.Options{Webhook: casework.WebhookConfig{URL: hook.srv.URL, Secret: "k"}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.eng.Run(ctx, time.Hour); close(done) }()
	defer func() { cancel(); <-done }()
	f.file(t, citizen, complaintFiling())
	deadline := time.Now().Add(5 * time.Second)
	for len(hook.received()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("Run did not deliver the notification")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Comments and attachments: stored with SHA-256, size-limited, recorded in
// the history and the ledger.
func TestCommentsAndAttachments(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, at(2026, 3, 2, 10), casework.Options{MaxAttachment: 16})
		c := f.file(t, citizen, complaintFiling())

		if _, err := f.eng.Comment(ctx, citizen, c.ID, "  "); codeOf(err) != "casework.comment_empty" {
			t.Fatalf("empty comment: %v", err)
		}
		if _, err := f.eng.Comment(ctx, deptAdmin, c.ID, "hi"); codeOf(err) != "casework.not_found" {
			t.Fatalf("comment by someone who cannot see the case: %v", err)
		}
		e, err := f.eng.Comment(ctx, securityOfficer, c.ID, "已转交技术组核查")
		if err != nil || e.Action != "comment" || e.Body != "已转交技术组核查" {
			t.Fatalf("comment: %+v %v", e, err)
		}

		data := []byte("screenshot bytes")
		if _, err := f.eng.Attach(ctx, citizen, c.ID, "shot.png", "image/png", bytes.NewReader(append(data, 'x'))); codeOf(err) != "casework.attachment_too_large" {
			t.Fatalf("17 bytes over a 16-byte limit: %v", err)
		}
		if _, err := f.eng.Attach(ctx, citizen, c.ID, "../etc/passwd", "text/plain", strings.NewReader("x")); codeOf(err) != "casework.attachment_name" {
			t.Fatalf("path in name: %v", err)
		}
		if _, err := f.eng.Attach(ctx, citizen, c.ID, "empty.txt", "text/plain", strings.NewReader("")); codeOf(err) != "casework.attachment_empty" {
			t.Fatalf("empty file: %v", err)
		}
		a, err := f.eng.Attach(ctx, citizen, c.ID, "截图.png", "image/png; charset=binary", bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		if a.Size != 16 || a.SHA256 != hex.EncodeToString(sum[:]) || a.ContentType != "image/png" {
			t.Fatalf("attachment: %+v", a)
		}
		list, err := f.eng.Attachments(ctx, securityOfficer, c.ID)
		if err != nil || len(list) != 1 || list[0].Name != "截图.png" {
			t.Fatalf("list: %+v %v", list, err)
		}
		got, err := f.eng.OpenAttachment(ctx, securityOfficer, c.ID, a.ID)
		if err != nil || !bytes.Equal(got.Data, data) {
			t.Fatalf("open: %v", err)
		}
		if _, err := f.eng.OpenAttachment(ctx, deptAdmin, c.ID, a.ID); codeOf(err) != "casework.not_found" {
			t.Fatalf("open by an outsider: %v", err)
		}
		steps, evs := f.ledgerSteps(t, c.ID)
		if !equal(steps, []string{"file", "comment", "attach"}) || evs[2].ContentHash != a.SHA256 {
			t.Fatalf("ledger: %v %+v", steps, evs)
		}
		full := f.get(t, citizen, c.ID)
		if !equal(historyActions(full), []string{"file", "comment", "attach"}) {
			t.Fatalf("history: %v", historyActions(full))
		}
		f.act(t, citizen, c.ID, "withdraw", "")
		if _, err := f.eng.Attach(ctx, citizen, c.ID, "late.txt", "text/plain", strings.NewReader("x")); codeOf(err) != "casework.attachment_closed" {
			t.Fatalf("attach to a closed case: %v", err)
		}
	})
}
