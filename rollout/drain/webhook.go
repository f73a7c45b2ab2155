package drain

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/noderoll/terraform-provider-noderoll/rollout"
)

// Webhook defaults; see WebhookOptions.
const (
	DefaultWebhookTimeout     = 30 * time.Second
	DefaultWebhookMaxAttempts = 5
	DefaultRetryWaitMin       = time.Second
	DefaultRetryWaitMax       = 30 * time.Second
)

// bodyTail is how much of a failed response's body an error carries.
const bodyTail = 1 << 10

// WebhookOptions configures a Webhook drainer.
type WebhookOptions struct {
	// URL receives the POST. http or https. Required.
	URL string
	// Headers are added to every request (an Authorization token, say).
	// "Host" sets the Host header.
	Headers map[string]string
	// Timeout bounds each attempt. 0 means DefaultWebhookTimeout. The whole
	// drain, retries included, is bounded by the context (see WithTimeout).
	Timeout time.Duration
	// MaxAttempts bounds the tries, the first included: 1 means no retry.
	// 0 means DefaultWebhookMaxAttempts.
	MaxAttempts int
	// RetryWaitMin and RetryWaitMax bound the exponential backoff between
	// attempts. A 429 or 503 with Retry-After waits what the server asked.
	// 0 means DefaultRetryWaitMin / DefaultRetryWaitMax.
	RetryWaitMin, RetryWaitMax time.Duration
}

// Webhook drains a node by POSTing
//
//	{"event":"drain","node":{"id":"...","address":"...","zone":"...","template":"..."}}
//
// to a URL. Any 2xx means drained: the receiver answers when the node is
// empty. 429 and 5xx (but 501) and connection errors are retried with
// backoff, honouring Retry-After; other 4xx are permanent failures.
// Redirects are not followed. A retry repeats the same event, so the
// receiver must treat repeated drains of one node as one. Safe for
// concurrent use.
type Webhook struct {
	url     string
	display string // URL without credentials or query, for messages
	headers map[string]string
	client  *http.Client
	o       WebhookOptions
}

var _ rollout.Drainer = (*Webhook)(nil)

// NewWebhook validates o and returns the drainer.
func NewWebhook(o WebhookOptions) (*Webhook, error) {
	var errs []error
	bad := func(field, value, want string) {
		errs = append(errs, &rollout.FieldError{Field: field, Value: value, Want: want})
	}
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("url", strconv.Quote(redact(o.URL)), `want an http or https URL such as "https://drain.internal/v1/drain"`)
	}
	for k, v := range o.Headers {
		if k == "" || strings.ContainsAny(k, " \t\r\n:()<>@,;\\\"/[]?={}") {
			bad("headers", strconv.Quote(k), "want a header name of letters, digits and '-', such as \"Authorization\"")
		}
		if strings.ContainsAny(v, "\r\n") {
			bad("headers", strconv.Quote(k), "want a header value without line breaks")
		}
	}
	for _, d := range []struct {
		field string
		v     time.Duration
	}{{"timeout", o.Timeout}, {"retry_wait_min", o.RetryWaitMin}, {"retry_wait_max", o.RetryWaitMax}} {
		if d.v < 0 {
			bad(d.field, d.v.String(), "want a positive duration (0 means the default)")
		}
	}
	if o.MaxAttempts < 0 {
		bad("max_attempts", strconv.Itoa(o.MaxAttempts), "want 1 or more (0 means the default 5)")
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultWebhookTimeout
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = DefaultWebhookMaxAttempts
	}
	if o.RetryWaitMin == 0 {
		o.RetryWaitMin = DefaultRetryWaitMin
	}
	if o.RetryWaitMax == 0 {
		o.RetryWaitMax = DefaultRetryWaitMax
	}
	if o.RetryWaitMax < o.RetryWaitMin {
		o.RetryWaitMax = o.RetryWaitMin
	}
	headers := make(map[string]string, len(o.Headers))
	for k, v := range o.Headers {
		headers[k] = v
	}
	return &Webhook{
		url:     o.URL,
		display: redact(o.URL),
		headers: headers,
		client: &http.Client{
			Transport:     http.DefaultTransport.(*http.Transport).Clone(),
			Timeout:       o.Timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		o: o,
	}, nil
}

type webhookNode struct {
	ID       string `json:"id"`
	Address  string `json:"address"`
	Zone     string `json:"zone"`
	Template string `json:"template"`
}

type webhookPayload struct {
	Event string      `json:"event"`
	Node  webhookNode `json:"node"`
}

// Drain POSTs the drain event for n and judges the answer.
func (w *Webhook) Drain(ctx context.Context, n rollout.Node) error {
	body, err := json.Marshal(webhookPayload{
		Event: "drain",
		Node:  webhookNode{ID: n.ID, Address: n.Address, Zone: n.Zone, Template: n.Template},
	})
	if err != nil {
		return fmt.Errorf("drain webhook: encoding the event: %w", err)
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPost, w.url, body)
	if err != nil {
		return fmt.Errorf("POST %s: %w", w.display, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "noderoll-drain")
	for k, v := range w.headers {
		if strings.EqualFold(k, "Host") {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}

	// What the attempts saw, for the error when the last one is not enough.
	attempts, last := 0, ""
	c := &retryablehttp.Client{
		HTTPClient:   w.client,
		Logger:       nil, // the library's default logger writes to stderr
		RetryWaitMin: w.o.RetryWaitMin,
		RetryWaitMax: w.o.RetryWaitMax,
		RetryMax:     w.o.MaxAttempts - 1,
		Backoff:      retryablehttp.DefaultBackoff, // honours Retry-After on 429 and 503
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
		CheckRetry: func(ctx context.Context, resp *http.Response, err error) (bool, error) {
			if ctx.Err() == nil { // an attempt cut off by the deadline tells nothing new
				attempts++
				last = describeAttempt(resp, err)
			}
			return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
		},
	}
	resp, err := c.Do(req)
	if ctx.Err() != nil {
		if resp != nil {
			resp.Body.Close()
		}
		if attempts == 0 {
			return fmt.Errorf("POST %s stopped (%w) while the first attempt was waiting for an answer", w.display, ctx.Err())
		}
		return fmt.Errorf("POST %s stopped (%w) after %d attempt(s); last: %s", w.display, ctx.Err(), attempts, last)
	}
	if resp == nil {
		if last == "" && err != nil { // failed before any attempt was judged
			return fmt.Errorf("POST %s: %w", w.display, err)
		}
		return fmt.Errorf("POST %s failed after %d attempt(s): %s", w.display, attempts, last)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return nil
	}
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode <= 399:
		return fmt.Errorf("POST %s: %s (redirects are not followed)", w.display, last)
	case resp.StatusCode >= 400 && resp.StatusCode <= 499 && resp.StatusCode != http.StatusTooManyRequests:
		return fmt.Errorf("POST %s: %s (permanent, not retried)", w.display, last)
	}
	return fmt.Errorf("POST %s failed after %d attempt(s): %s", w.display, attempts, last)
}

// describeAttempt is one attempt's outcome in words: "status 503 Service
// Unavailable, Retry-After 30: <body tail>" or the transport error. It reads
// the body of a non-2xx answer and puts the bytes back for the caller.
func describeAttempt(resp *http.Response, err error) string {
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			return ue.Err.Error() // the URL is already in the message
		}
		return err.Error()
	}
	s := "status " + resp.Status
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return s
	}
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		s += ", Retry-After " + ra
	}
	t := newTail(bodyTail)
	read, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	t.Write(read)
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(read), resp.Body), resp.Body}
	if b := strings.Join(strings.Fields(t.String()), " "); b != "" {
		s += ": " + b
	}
	return s
}

// redact hides credentials and the query (tokens often travel there) of a
// URL before it appears in an error.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}
