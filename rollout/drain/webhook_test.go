package drain

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fastRetry keeps real backoff waits negligible in tests.
func fastRetry(o WebhookOptions) WebhookOptions {
	o.RetryWaitMin, o.RetryWaitMax = time.Millisecond, time.Millisecond
	return o
}

func mustWebhook(t *testing.T, o WebhookOptions) *Webhook {
	t.Helper()
	w, err := NewWebhook(o)
	if err != nil {
		t.Fatalf("NewWebhook: %v", err)
	}
	return w
}

// script answers the i-th request (0-based) with answers[i], repeating the
// last one, and counts requests.
type script struct {
	answers []func(w http.ResponseWriter)
	hits    atomic.Int32
}

func (s *script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i := int(s.hits.Add(1)) - 1
	s.answers[min(i, len(s.answers)-1)](w)
}

func status(code int, body string, header ...string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(code)
		io.WriteString(w, body)
	}
}

func serveScript(t *testing.T, answers ...func(http.ResponseWriter)) (*script, string) {
	s := &script{answers: answers}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv.URL + "/v1/drain"
}

func TestWebhookSendsEvent(t *testing.T) {
	var got atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.Store(fmt.Sprintf("%s %s host=%s ct=%s auth=%s body=%s", r.Method, r.URL.Path, r.Host, r.Header.Get("Content-Type"), r.Header.Get("Authorization"), b))
	}))
	t.Cleanup(srv.Close)
	w := mustWebhook(t, WebhookOptions{URL: srv.URL + "/v1/drain", Headers: map[string]string{"Authorization": "Bearer s3cret", "Host": "drain.internal"}})
	if err := w.Drain(t.Context(), node); err != nil {
		t.Fatal(err)
	}
	want := `POST /v1/drain host=drain.internal ct=application/json auth=Bearer s3cret body={"event":"drain","node":{"id":"web-3","address":"10.0.0.5","zone":"zone-a","template":"tpl-7"}}`
	if got.Load() != want {
		t.Errorf("server saw\n%s\nwant\n%s", got.Load(), want)
	}
	var p webhookPayload
	if err := json.Unmarshal([]byte(want[strings.Index(want, "body=")+5:]), &p); err != nil || p.Node.ID != "web-3" {
		t.Errorf("payload does not round-trip: %+v, %v", p, err)
	}
}

func TestWebhookAnswers(t *testing.T) {
	tests := []struct {
		name     string
		answers  []func(http.ResponseWriter)
		opts     WebhookOptions
		wantHits int32
		want     string // "" = drained; else the error after "POST <url>"
	}{
		{name: "200 drains", answers: ps(status(200, "")), wantHits: 1},
		{name: "202 counts as drained", answers: ps(status(202, "draining")), wantHits: 1},
		{name: "500 then 200 retries", answers: ps(status(500, "busy"), status(200, "")), wantHits: 2},
		{name: "connection reset then 200 retries", answers: ps(hangUp, status(204, "")), wantHits: 2},
		{
			name:     "400 is permanent",
			answers:  ps(status(400, "unknown node web-3\n")),
			wantHits: 1,
			want:     ": status 400 Bad Request: unknown node web-3 (permanent, not retried)",
		},
		{
			name:     "500 until attempts run out",
			answers:  ps(status(500, "<html>\n  <p>database down</p>\n</html>")),
			opts:     WebhookOptions{MaxAttempts: 3},
			wantHits: 3,
			want:     " failed after 3 attempt(s): status 500 Internal Server Error: <html> <p>database down</p> </html>",
		},
		{
			name:     "one attempt means no retry",
			answers:  ps(status(503, "")),
			opts:     WebhookOptions{MaxAttempts: 1},
			wantHits: 1,
			want:     " failed after 1 attempt(s): status 503 Service Unavailable",
		},
		{
			name:     "redirect is not followed",
			answers:  ps(status(302, "", "Location", "http://elsewhere.example/")),
			wantHits: 1,
			want:     ": status 302 Found (redirects are not followed)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, url := serveScript(t, tt.answers...)
			o := fastRetry(tt.opts)
			o.URL = url
			err := mustWebhook(t, o).Drain(t.Context(), node)
			if tt.want == "" && err != nil {
				t.Fatalf("got %v, want drained", err)
			}
			if want := "POST " + url + tt.want; tt.want != "" && (err == nil || err.Error() != want) {
				t.Fatalf("got  %v\nwant %s", err, want)
			}
			if got := s.hits.Load(); got != tt.wantHits {
				t.Errorf("server got %d requests, want %d", got, tt.wantHits)
			}
		})
	}
}

func ps(fs ...func(http.ResponseWriter)) []func(http.ResponseWriter) { return fs }

// hangUp closes the connection without an answer.
func hangUp(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

// TestWebhookHonoursRetryAfter sets a backoff of an hour: only the server's
// Retry-After: 0 lets the retry happen before the test's deadline.
func TestWebhookHonoursRetryAfter(t *testing.T) {
	s, url := serveScript(t, status(429, "slow down", "Retry-After", "0"), status(200, ""))
	w := mustWebhook(t, WebhookOptions{URL: url, RetryWaitMin: time.Hour, RetryWaitMax: time.Hour})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := w.Drain(ctx, node); err != nil {
		t.Fatalf("got %v, want drained after Retry-After: 0", err)
	}
	if got := s.hits.Load(); got != 2 {
		t.Errorf("server got %d requests, want 2", got)
	}
}

func TestWebhookTimeoutSaysLastAnswer(t *testing.T) {
	// The receiver asks for an hour's patience; the drain timeout ends it.
	_, url := serveScript(t, status(503, "evicting 3 pods", "Retry-After", "3600"))
	w := mustWebhook(t, WebhookOptions{URL: url})
	err := WithTimeout(w, 200*time.Millisecond).Drain(t.Context(), node)
	want := "drain of node web-3 timed out after 200ms: POST " + url + " stopped (context deadline exceeded) after 1 attempt(s); last: status 503 Service Unavailable, Retry-After 3600: evicting 3 pods"
	if err == nil || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("errors.Is(err, DeadlineExceeded) = false")
	}
}

func TestWebhookRedactsURL(t *testing.T) {
	_, url := serveScript(t, status(400, "no"))
	u := strings.Replace(url, "http://", "http://user:pw@", 1) + "?token=abc"
	err := mustWebhook(t, WebhookOptions{URL: u}).Drain(t.Context(), node)
	if err == nil || strings.Contains(err.Error(), "pw") || strings.Contains(err.Error(), "abc") {
		t.Errorf("error leaks credentials: %v", err)
	}
}

func TestNewWebhookValidation(t *testing.T) {
	tests := []struct {
		o    WebhookOptions
		want string
	}{
		{WebhookOptions{}, `url = "" is invalid: want an http or https URL`},
		{WebhookOptions{URL: "ftp://x/y"}, `url = "ftp://x/y" is invalid`},
		{WebhookOptions{URL: "https://u:secret@h/p?token=t"}, ""},
		{WebhookOptions{URL: "/relative"}, `url = "/relative" is invalid`},
		{WebhookOptions{URL: "https://h", Headers: map[string]string{"Bad Name": "x"}}, `headers = "Bad Name" is invalid`},
		{WebhookOptions{URL: "https://h", Headers: map[string]string{"X-A": "a\r\nInjected: 1"}}, `headers = "X-A" is invalid: want a header value without line breaks`},
		{WebhookOptions{URL: "https://h", Timeout: -time.Second}, `timeout = -1s is invalid`},
		{WebhookOptions{URL: "https://h", MaxAttempts: -1}, `max_attempts = -1 is invalid`},
	}
	for _, tt := range tests {
		_, err := NewWebhook(tt.o)
		if tt.want == "" {
			if err != nil {
				t.Errorf("NewWebhook(%+v) = %v, want valid", tt.o, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewWebhook(%+v) = %v, want an error containing %q", tt.o, err, tt.want)
		}
	}
	if _, err := NewWebhook(WebhookOptions{URL: "https://u:secret@h/p?token=t&x"}); err != nil {
		t.Fatal(err)
	}
	if _, err := NewWebhook(WebhookOptions{URL: "ftp://u:secret@h/p?token=t"}); err == nil || strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "token=") {
		t.Errorf("validation error leaks credentials: %v", err)
	}
}

func TestWebhookUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/v1/drain"
	srv.Close() // nothing listens there now
	err := mustWebhook(t, fastRetry(WebhookOptions{URL: url, MaxAttempts: 2})).Drain(t.Context(), node)
	host := strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/v1/drain")
	want := "POST " + url + " failed after 2 attempt(s): dial tcp " + host + ": connect: connection refused"
	if err == nil || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
}
