package gate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"shuqiao/internal/catalog"
	"shuqiao/internal/ledger"
	"shuqiao/internal/store"
)

// ProxyRequest is a call to a service-interface resource (R-AGG-2): data
// that stays at its org and is reached through an interface the platform
// proxies. The same decide and record steps apply as for hosted data.
type ProxyRequest struct {
	Request
	// Method is GET (default) or POST.
	Method string
	// Query is passed to the upstream endpoint (the gate's own parameters removed).
	Query url.Values
	// Body is a POST body (JSON).
	Body []byte
}

// Proxy decides, calls the upstream endpoint with a timeout and a response
// size limit (no retry unless configured), projects and masks the rows it
// answers with, records a ledger transmit event and signs the receipt. The
// upstream must answer JSON: an array of objects, an object with a "rows",
// "data" or "items" array, or one object.
func (s *Service) Proxy(ctx context.Context, req ProxyRequest) (*Delivery, error) {
	format, err := ParseFormat(string(req.Format))
	if err != nil {
		return nil, err
	}
	dec, err := s.Decide(ctx, req.Request)
	if err != nil {
		return nil, err
	}
	if dec.Allow && (dec.Resource.Delivery.Mode != catalog.ServiceAPI || dec.Resource.Delivery.Endpoint == "") {
		dec.Allow, dec.Reason = false, ErrWrongDelivery.At("resource")
	}
	if dec.Allow && !s.limits.allow(dec.Grant.ID, dec.Grant.RatePerMinute) {
		dec.Allow, dec.Reason = false, ErrRateLimited
	}
	if !dec.Allow {
		if err := s.recordDenial(ctx, req.Request, dec); err != nil {
			return nil, err
		}
		return nil, dec.Reason
	}
	rows, err := s.callUpstream(ctx, dec, req)
	if err != nil {
		return nil, err
	}
	src := NewMemorySource()
	keys := make([]string, len(rows))
	for i := range rows {
		keys[i] = fmt.Sprintf("%09d", i)
	}
	src.Put(dec.Resource.ID, keys, rows)
	now := s.clock.Now().UTC().Truncate(time.Microsecond)
	d := &Delivery{ID: store.NewID(), Decision: dec, Format: format, Time: now, action: ledger.Transmit, spool: newSpool(s.opts.SpoolMemory)}
	limit := dec.Obl.RowLimit
	if req.Limit > 0 {
		limit = min(req.Limit, limit)
	}
	if err := s.render(ctx, d, src, "", limit); err != nil {
		d.Close()
		return nil, err
	}
	d.NextCursor = "" // upstream paging is the upstream's
	if err := s.seal(d, req.Request); err != nil {
		d.Close()
		return nil, err
	}
	if err := s.rec.record(ctx, d); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

func (s *Service) callUpstream(ctx context.Context, dec *Decision, req ProxyRequest) ([]map[string]any, error) {
	u, err := url.Parse(dec.Resource.Delivery.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, ErrUpstream.Wrap(fmt.Errorf("bad endpoint %q", dec.Resource.Delivery.Endpoint))
	}
	q := u.Query()
	for k, vs := range req.Query {
		for _, v := range vs {
			q.Add(k, v)
		}
	}
	u.RawQuery = q.Encode()
	method := strings.ToUpper(req.Method)
	if method == "" {
		method = http.MethodGet
	}
	if method != http.MethodGet && method != http.MethodPost {
		return nil, ErrWrongDelivery.At("method")
	}
	attempts := 1
	if method == http.MethodGet {
		attempts += max(s.opts.Proxy.Retries, 0)
	}
	var lastErr error
	for i := 0; i < attempts; i++ {
		rows, retry, err := s.callOnce(ctx, method, u.String(), dec, req)
		if err == nil {
			return rows, nil
		}
		lastErr = err
		if !retry || ctx.Err() != nil {
			break
		}
		time.Sleep(time.Duration(50*(i+1)) * time.Millisecond)
	}
	return nil, lastErr
}

func (s *Service) callOnce(ctx context.Context, method, target string, dec *Decision, req ProxyRequest) ([]map[string]any, bool, error) {
	cctx, cancel := context.WithTimeout(ctx, s.opts.Proxy.Timeout)
	defer cancel()
	var body io.Reader
	if method == http.MethodPost {
		body = bytes.NewReader(req.Body)
	}
	hr, err := http.NewRequestWithContext(cctx, method, target, body)
	if err != nil {
		return nil, false, ErrUpstream.Wrap(err)
	}
	hr.Header.Set("Accept", "application/json")
	if method == http.MethodPost {
		hr.Header.Set("Content-Type", "application/json")
	}
	// The upstream learns who asks and why; never the caller's credentials.
	hr.Header.Set("X-Shuqiao-Grant", dec.Grant.ID)
	hr.Header.Set("X-Shuqiao-Recipient-Org", req.Principal.OrgID)
	hr.Header.Set("X-Shuqiao-Purpose", url.QueryEscape(dec.Grant.Purpose))
	res, err := s.opts.Proxy.Client.Do(hr)
	if err != nil {
		return nil, true, ErrUpstream.Wrap(err)
	}
	defer res.Body.Close()
	if res.StatusCode < 200 || res.StatusCode > 299 {
		io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
		retry := res.StatusCode == 502 || res.StatusCode == 503 || res.StatusCode == 504
		return nil, retry, ErrUpstream.Wrap(fmt.Errorf("upstream answered %s", res.Status))
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, s.opts.Proxy.MaxBytes+1))
	if err != nil {
		return nil, true, ErrUpstream.Wrap(err)
	}
	if int64(len(b)) > s.opts.Proxy.MaxBytes {
		return nil, false, ErrUpstreamSize
	}
	rows, err := upstreamRows(b)
	if err != nil {
		return nil, false, ErrUpstream.Wrap(err)
	}
	return rows, false, nil
}

func upstreamRows(b []byte) ([]map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("upstream did not answer JSON: %w", err)
	}
	toRows := func(arr []any) ([]map[string]any, error) {
		out := make([]map[string]any, 0, len(arr))
		for _, x := range arr {
			m, ok := x.(map[string]any)
			if !ok {
				return nil, errors.New("upstream rows are not objects")
			}
			out = append(out, m)
		}
		return out, nil
	}
	switch x := v.(type) {
	case []any:
		return toRows(x)
	case map[string]any:
		for _, k := range []string{"rows", "data", "items"} {
			if arr, ok := x[k].([]any); ok {
				return toRows(arr)
			}
		}
		return []map[string]any{x}, nil
	}
	return nil, errors.New("upstream answer is neither an object nor an array")
}
