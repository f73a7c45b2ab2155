package health

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/noderoll/terraform-provider-noderoll/rollout"
)

// DefaultTimeout bounds one probe when the options give none.
const DefaultTimeout = 2 * time.Second

// maxBody is how much of a response BodyContains searches. A health
// endpoint that needs more is not a health endpoint, and a node must not be
// able to make the engine buffer an unbounded body.
const maxBody = 64 << 10

// HTTPOptions configures an HTTP or HTTPS probe. Field names in validation
// errors are the Terraform attribute names (port, path, ...).
type HTTPOptions struct {
	// Port is the node's port, 1 to 65535. Required.
	Port int
	// Path is the request path, "/" when empty. It may carry a query
	// ("/healthz?verbose=0") but no scheme or host: the host is always the
	// node's address.
	Path string
	// Scheme is "http" (the default) or "https".
	Scheme string
	// ExpectStatus lists the status codes that pass. Empty means any 2xx.
	// Redirects are never followed, so a 3xx passes only if listed here.
	ExpectStatus []int
	// BodyContains, when set, must occur in the first 64 KiB of the body.
	BodyContains string
	// Host overrides the Host header and, for https, the TLS server name
	// verified against the certificate. Empty: the node's address.
	Host string
	// CACertPEM holds the PEM certificates trusted for https, instead of the
	// system roots (nodes usually carry certificates from a private CA).
	CACertPEM []byte
	// InsecureSkipVerify turns off certificate verification for https. An
	// explicit opt-out; verification is on by default.
	InsecureSkipVerify bool
	// Timeout bounds one probe: connect, TLS, headers and body. 0 means
	// DefaultTimeout.
	Timeout time.Duration
	// ReuseConnections keeps one idle connection per node between probes
	// (closed after IdleConnTimeout of disuse). Off by default: a fresh
	// connection per probe also proves the node still accepts connections,
	// and a 10,000-node pool then holds no idle sockets. On, https probes
	// skip the TLS handshake each time (BenchmarkHTTPProbe shows the ratio),
	// at one socket per node held open.
	ReuseConnections bool
}

// IdleConnTimeout closes a reused probe connection left idle this long: long
// enough to span typical probe intervals (5s), short enough that nodes gone
// from the pool do not keep sockets.
const IdleConnTimeout = 30 * time.Second

// HTTPProber probes a node over HTTP or HTTPS. It is safe for concurrent
// use; one prober serves a whole pool.
type HTTPProber struct {
	o       HTTPOptions
	client  *http.Client
	timeout time.Duration
	want    string // "2xx" or "200, 204": for error messages
}

var _ rollout.Prober = (*HTTPProber)(nil)

// NewHTTP validates o and returns a prober. The error lists every invalid
// field, naming its value and the valid range.
func NewHTTP(o HTTPOptions) (*HTTPProber, error) {
	var errs []error
	bad := func(field, value, want string) {
		errs = append(errs, &rollout.FieldError{Field: field, Value: value, Want: want})
	}
	if o.Scheme == "" {
		o.Scheme = "http"
	}
	if o.Path == "" {
		o.Path = "/"
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	validatePort(o.Port, bad)
	if o.Scheme != "http" && o.Scheme != "https" {
		bad("scheme", strconv.Quote(o.Scheme), `want "http" or "https"`)
	}
	if u, err := url.Parse(o.Path); err != nil || !strings.HasPrefix(o.Path, "/") || u.Scheme != "" || u.Host != "" || u.Fragment != "" {
		bad("path", strconv.Quote(o.Path), `want an absolute path such as "/healthz", optionally with a query, without scheme, host or fragment`)
	}
	for _, c := range o.ExpectStatus {
		if c < 100 || c > 599 {
			bad("expect_status", strconv.Itoa(c), "want HTTP status codes from 100 to 599")
		}
	}
	if len(o.BodyContains) > maxBody {
		bad("body_contains", strconv.Itoa(len(o.BodyContains))+" bytes", "want at most 65536 bytes: only the first 64 KiB of a body are read")
	}
	if o.Host != "" && !validHostHeader(o.Host) {
		bad("host", strconv.Quote(o.Host), `want a host name with an optional port, such as "web.internal" or "web.internal:8443"`)
	}
	if o.Timeout < 0 {
		bad("timeout", o.Timeout.String(), `want a positive duration such as "2s" (0 means the default 2s)`)
	}
	var roots *x509.CertPool
	if len(o.CACertPEM) > 0 {
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(o.CACertPEM) {
			bad("ca_cert", fmt.Sprintf("(%d bytes)", len(o.CACertPEM)), "want one or more PEM-encoded certificates (-----BEGIN CERTIFICATE-----)")
		}
	}
	if o.Scheme == "http" && (len(o.CACertPEM) > 0 || o.InsecureSkipVerify) {
		bad("scheme", `"http"`, "ca_cert and insecure_skip_verify apply to https only: set scheme = \"https\" or remove them")
	}
	if len(o.CACertPEM) > 0 && o.InsecureSkipVerify {
		bad("insecure_skip_verify", "true", "contradicts ca_cert: a custom CA is only useful when certificates are verified; remove one of them")
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	tlsConf := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		RootCAs:            roots,
		InsecureSkipVerify: o.InsecureSkipVerify, // explicit opt-out only
	}
	if o.Host != "" {
		tlsConf.ServerName = hostOnly(o.Host)
	}
	tr := &http.Transport{
		Proxy:       nil, // never send probes through HTTP_PROXY: the target must be the node itself
		DialContext: guardedDialer().DialContext,
		// Keep-alives off unless asked for: see ReuseConnections.
		DisableKeepAlives:      !o.ReuseConnections,
		MaxIdleConnsPerHost:    1,
		IdleConnTimeout:        IdleConnTimeout,
		TLSClientConfig:        tlsConf,
		TLSHandshakeTimeout:    o.Timeout,
		MaxResponseHeaderBytes: maxBody,
	}
	client := &http.Client{
		Transport: tr,
		// A redirect is judged as the response it is: following it could send
		// the probe to a host the cloud never reported.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	want := "2xx"
	if len(o.ExpectStatus) > 0 {
		codes := make([]string, len(o.ExpectStatus))
		for i, c := range o.ExpectStatus {
			codes[i] = strconv.Itoa(c)
		}
		want = strings.Join(codes, ", ")
	}
	o.CACertPEM = slices.Clone(o.CACertPEM)
	o.ExpectStatus = slices.Clone(o.ExpectStatus)
	return &HTTPProber{o: o, client: client, timeout: o.Timeout, want: want}, nil
}

// URL is the address the prober requests for a node.
func (p *HTTPProber) URL(n rollout.Node) string {
	return p.o.Scheme + "://" + net.JoinHostPort(n.Address, strconv.Itoa(p.o.Port)) + p.o.Path
}

// Probe sends one GET to the node and judges status and body.
func (p *HTTPProber) Probe(ctx context.Context, n rollout.Node) error {
	if n.Address == "" {
		return noAddress(n)
	}
	target := p.URL(n)
	fail := func(format string, args ...any) error {
		return fmt.Errorf("GET %s: "+format, append([]any{target}, args...)...)
	}
	if err := checkHost(n.Address); err != nil {
		return fail("%w", err)
	}
	ctx, cancel := context.WithTimeoutCause(ctx, p.timeout, errProbeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return fail("%w", err)
	}
	if p.o.Host != "" {
		req.Host = p.o.Host
	}
	req.Header.Set("User-Agent", "noderoll-probe")
	resp, err := p.client.Do(req)
	if err != nil {
		return fail("%w", describe(ctx, err, p.timeout))
	}
	defer func() {
		if p.o.ReuseConnections {
			// Only a body read to its end lets the connection be reused.
			io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
		}
		resp.Body.Close()
	}()
	if !p.statusOK(resp.StatusCode) {
		snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
		msg := fail("status %d (want %s)", resp.StatusCode, p.want)
		if loc := resp.Header.Get("Location"); loc != "" && resp.StatusCode/100 == 3 {
			return fmt.Errorf("%w: redirect to %q not followed", msg, loc)
		}
		if s := oneLine(snippet, 200); s != "" {
			return fmt.Errorf("%w: %s", msg, s)
		}
		return msg
	}
	if p.o.BodyContains == "" {
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fail("reading body: %w", describe(ctx, err, p.timeout))
	}
	if !bytes.Contains(body, []byte(p.o.BodyContains)) {
		if len(body) == maxBody {
			return fail("body does not contain %q in its first 64 KiB", p.o.BodyContains)
		}
		return fail("body does not contain %q", p.o.BodyContains)
	}
	return nil
}

func (p *HTTPProber) statusOK(code int) bool {
	if len(p.o.ExpectStatus) == 0 {
		return code >= 200 && code <= 299
	}
	return slices.Contains(p.o.ExpectStatus, code)
}

func validatePort(port int, bad func(field, value, want string)) {
	if port < 1 || port > 65535 {
		bad("port", strconv.Itoa(port), "want a port from 1 to 65535")
	}
}

func noAddress(n rollout.Node) error {
	return fmt.Errorf("cannot probe node %s: the backend reported no address for it", n.ID)
}

// validHostHeader accepts "name" or "name:port".
func validHostHeader(h string) bool {
	host := h
	if hh, port, err := net.SplitHostPort(h); err == nil {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return false
		}
		host = hh
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	return validHostname(strings.TrimSuffix(strings.ToLower(host), "."))
}

func hostOnly(h string) string {
	if hh, _, err := net.SplitHostPort(h); err == nil {
		return hh
	}
	return h
}

// oneLine squeezes a response snippet into one printable line of at most
// max bytes, for error messages.
func oneLine(b []byte, max int) string {
	s := strings.Join(strings.Fields(strings.ToValidUTF8(string(b), "?")), " ")
	if len(s) > max {
		s = strings.ToValidUTF8(s[:max], "") + "..."
	}
	return s
}
