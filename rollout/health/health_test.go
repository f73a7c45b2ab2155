package health

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/noderoll/terraform-provider-noderoll/rollout"
)

// serve starts an httptest server on 127.0.0.1 and returns the node that
// points at it and its port.
func serve(t testing.TB, h http.Handler) (rollout.Node, int) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return nodeFor(t, srv)
}

func nodeFor(t testing.TB, srv *httptest.Server) (rollout.Node, int) {
	t.Helper()
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatal(err)
	}
	return rollout.Node{ID: "node-1", Address: u.Hostname()}, port
}

func mustHTTP(t testing.TB, o HTTPOptions) *HTTPProber {
	t.Helper()
	p, err := NewHTTP(o)
	if err != nil {
		t.Fatalf("NewHTTP(%+v): %v", o, err)
	}
	return p
}

// checkErr fails unless err is nil when want is "", or contains every
// substring of want (separated by "|").
func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("got error %q, want none", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("got no error, want one containing %q", want)
	}
	for _, w := range strings.Split(want, "|") {
		if !strings.Contains(err.Error(), w) {
			t.Fatalf("error %q does not contain %q", err, w)
		}
	}
}

func TestHTTPStatusAndBody(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		opts   HTTPOptions
		want   string // "" = pass
	}{
		{name: "200 passes by default", status: 200, body: "ok"},
		{name: "204 passes by default", status: 204},
		{name: "500 fails by default", status: 500, body: "db down\n\tretrying", want: "/healthz: status 500 (want 2xx): db down retrying"},
		{name: "404 fails by default", status: 404, want: "status 404 (want 2xx)"},
		{name: "listed status passes", status: 418, opts: HTTPOptions{ExpectStatus: []int{200, 418}}},
		{name: "unlisted 2xx fails", status: 204, opts: HTTPOptions{ExpectStatus: []int{200}}, want: "status 204 (want 200)"},
		{name: "several wanted are named", status: 500, opts: HTTPOptions{ExpectStatus: []int{200, 204}}, want: "status 500 (want 200, 204)"},
		{name: "body contains", status: 200, body: `{"status":"ok"}`, opts: HTTPOptions{BodyContains: `"ok"`}},
		{name: "body lacks", status: 200, body: `{"status":"starting"}`, opts: HTTPOptions{BodyContains: `"ok"`}, want: `/healthz: body does not contain "\"ok\""`},
		{name: "needle past 64 KiB", status: 200, body: strings.Repeat("x", maxBody) + "ok", opts: HTTPOptions{BodyContains: "ok"}, want: `body does not contain "ok" in its first 64 KiB`},
		{name: "needle just inside 64 KiB", status: 200, body: strings.Repeat("x", maxBody-2) + "ok", opts: HTTPOptions{BodyContains: "ok"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			node, port := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/healthz" {
					http.NotFound(w, r)
					return
				}
				w.WriteHeader(tt.status)
				fmt.Fprint(w, tt.body)
			}))
			o := tt.opts
			o.Port, o.Path = port, "/healthz"
			err := mustHTTP(t, o).Probe(t.Context(), node)
			checkErr(t, err, tt.want)
			if err != nil && !strings.HasPrefix(err.Error(), "GET http://127.0.0.1:"+strconv.Itoa(port)+"/healthz: ") {
				t.Errorf("error %q does not start with the request", err)
			}
		})
	}
}

func TestHTTPSendsPathQueryHostAndAgent(t *testing.T) {
	var got atomic.Value
	node, port := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.Method + " " + r.URL.RequestURI() + " host=" + r.Host + " ua=" + r.UserAgent())
	}))
	p := mustHTTP(t, HTTPOptions{Port: port, Path: "/ready?full=1", Host: "web.internal"})
	checkErr(t, p.Probe(t.Context(), node), "")
	if want := "GET /ready?full=1 host=web.internal ua=noderoll-probe"; got.Load() != want {
		t.Errorf("server saw %q, want %q", got.Load(), want)
	}
}

func TestHTTPURL(t *testing.T) {
	p := mustHTTP(t, HTTPOptions{Port: 8443, Scheme: "https", Path: "/healthz?deep=1", InsecureSkipVerify: true})
	for addr, want := range map[string]string{
		"10.0.0.5":            "https://10.0.0.5:8443/healthz?deep=1",
		"fd12::5":             "https://[fd12::5]:8443/healthz?deep=1",
		"web-1.pool.internal": "https://web-1.pool.internal:8443/healthz?deep=1",
	} {
		if got := p.URL(rollout.Node{Address: addr}); got != want {
			t.Errorf("URL(%s) = %s, want %s", addr, got, want)
		}
	}
	// A NAT64 address of an ordinary host is allowed.
	if err := checkHost("64:ff9b::a00:5"); err != nil {
		t.Errorf("checkHost(64:ff9b::a00:5 = 10.0.0.5) = %v, want nil", err)
	}
}

func TestHTTPConnectionReuse(t *testing.T) {
	for _, reuse := range []bool{false, true} {
		t.Run(fmt.Sprintf("reuse=%v", reuse), func(t *testing.T) {
			var conns atomic.Int32
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprint(w, "ok")
			}))
			srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
				if s == http.StateNew {
					conns.Add(1)
				}
			}
			srv.Start()
			t.Cleanup(srv.Close)
			node, port := nodeFor(t, srv)
			p := mustHTTP(t, HTTPOptions{Port: port, ReuseConnections: reuse})
			for range 3 {
				checkErr(t, p.Probe(t.Context(), node), "")
			}
			want := int32(3)
			if reuse {
				want = 1
			}
			if got := conns.Load(); got != want {
				t.Errorf("3 probes opened %d connections, want %d", got, want)
			}
		})
	}
}

func TestHTTPRedirectNotFollowed(t *testing.T) {
	var followed atomic.Int32
	node, port := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/elsewhere" {
			followed.Add(1)
			return
		}
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	}))
	err := mustHTTP(t, HTTPOptions{Port: port, Path: "/healthz"}).Probe(t.Context(), node)
	checkErr(t, err, `status 302 (want 2xx): redirect to "/elsewhere" not followed`)
	// Listing the 3xx makes the redirect itself the passing answer.
	checkErr(t, mustHTTP(t, HTTPOptions{Port: port, ExpectStatus: []int{302}}).Probe(t.Context(), node), "")
	if n := followed.Load(); n != 0 {
		t.Errorf("redirect target was requested %d times, want 0", n)
	}
}

func TestHTTPS(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "ok")
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // failed handshakes are the point here
	srv.StartTLS()
	t.Cleanup(srv.Close)
	node, port := nodeFor(t, srv)
	// httptest's certificate is valid for 127.0.0.1 and example.com.
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})

	tests := []struct {
		name string
		opts HTTPOptions
		want string
	}{
		{name: "custom CA verifies", opts: HTTPOptions{CACertPEM: ca, BodyContains: "ok"}},
		{name: "system roots do not know the CA", opts: HTTPOptions{}, want: "/: tls: failed to verify certificate: x509: certificate signed by unknown authority"},
		{name: "host sets the verified server name", opts: HTTPOptions{CACertPEM: ca, Host: "example.com"}},
		{name: "server name not in the certificate", opts: HTTPOptions{CACertPEM: ca, Host: "other.test"}, want: "other.test"},
		{name: "explicit opt-out skips verification", opts: HTTPOptions{InsecureSkipVerify: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.opts
			o.Port, o.Scheme = port, "https"
			checkErr(t, mustHTTP(t, o).Probe(t.Context(), node), tt.want)
		})
	}
}

func TestHTTPTimeout(t *testing.T) {
	node, port := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // hang until the client gives up
	}))
	p := mustHTTP(t, HTTPOptions{Port: port, Timeout: 50 * time.Millisecond})
	err := p.Probe(t.Context(), node)
	checkErr(t, err, "/: timed out after 50ms")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("errors.Is(%v, DeadlineExceeded) = false", err)
	}

	// The caller cancelling is not reported as the probe's timeout.
	ctx, cancel := context.WithCancel(t.Context())
	p = mustHTTP(t, HTTPOptions{Port: port, Timeout: time.Hour})
	done := make(chan error, 1)
	go func() { done <- p.Probe(ctx, node) }()
	cancel()
	err = <-done
	checkErr(t, err, "probe stopped: context canceled")
	if strings.Contains(err.Error(), "timed out") {
		t.Errorf("cancellation reported as a timeout: %v", err)
	}
}

func TestRefusedAddresses(t *testing.T) {
	httpP := mustHTTP(t, HTTPOptions{Port: 80})
	tcpP, err := NewTCP(TCPOptions{Port: 80})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		addr    string
		want    string
		refused bool // a *RefusedError, not an invalid address
	}{
		{"169.254.169.254", "refusing to probe 169.254.169.254: link-local/metadata address", true},
		{"::ffff:169.254.169.254", "refusing to probe 169.254.169.254: link-local/metadata address", true},
		{"64:ff9b::a9fe:a9fe", "refusing to probe 64:ff9b::a9fe:a9fe: link-local/metadata address (NAT64)", true},
		{"169.254.170.2", "link-local/metadata address", true},
		{"fd00:ec2::254", "refusing to probe fd00:ec2::254: link-local/metadata address", true},
		{"fd20:ce::254", "link-local/metadata address", true},
		{"100.100.100.200", "refusing to probe 100.100.100.200: link-local/metadata address", true},
		{"169.254.10.1", "refusing to probe 169.254.10.1: link-local address", true},
		{"fe80::1", "refusing to probe fe80::1: link-local address", true},
		{"fe80::1%eth0", "refusing to probe fe80::1: link-local address", true},
		{"0.0.0.0", "refusing to probe 0.0.0.0: unspecified address", true},
		{"::", "refusing to probe ::: unspecified address", true},
		{"224.0.0.1", "multicast address", true},
		{"ff02::1", "multicast address", true},
		{"255.255.255.255", "broadcast address", true},
		{"metadata.google.internal", "refusing to probe metadata.google.internal: cloud metadata host name", true},
		{"Metadata.Google.Internal.", "cloud metadata host name", true},
		{"metadata", "cloud metadata host name", true},
		{"", "cannot probe node n: the backend reported no address", false},
		{"10.0.0.5:8080", `node address "10.0.0.5:8080" is neither an IP address nor a host name`, false},
		{"http://10.0.0.5", "is neither an IP address nor a host name", false},
		{"web-1..internal", "is neither an IP address nor a host name", false},
	}
	for _, tt := range tests {
		for name, p := range map[string]rollout.Prober{"http": httpP, "tcp": tcpP} {
			t.Run(name+"/"+tt.addr, func(t *testing.T) {
				err := p.Probe(t.Context(), rollout.Node{ID: "n", Address: tt.addr})
				checkErr(t, err, tt.want)
				var re *RefusedError
				if errors.As(err, &re) != tt.refused {
					t.Errorf("errors.As(%v, *RefusedError) = %v, want %v", err, !tt.refused, tt.refused)
				}
			})
		}
	}
}

// TestDialerRefusesResolvedAddress checks the connect-time guard itself: it
// sees the resolved IP, so a DNS answer pointing at a metadata address is
// refused even though the name passed checkHost.
func TestDialerRefusesResolvedAddress(t *testing.T) {
	d := guardedDialer()
	for _, addr := range []string{"169.254.169.254:80", "[::ffff:169.254.169.254]:80", "[fd00:ec2::254]:80", "0.0.0.0:80", "[fe80::1%lo]:80"} {
		_, err := d.DialContext(t.Context(), "tcp", addr)
		var re *RefusedError
		if !errors.As(err, &re) {
			t.Errorf("dial %s: got %v, want a *RefusedError", addr, err)
		}
	}
	// A host name is resolved first; the guard then sees loopback and allows it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	conn, err := d.DialContext(t.Context(), "tcp4", net.JoinHostPort("localhost", strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)))
	if err != nil {
		t.Fatalf("dial localhost: %v", err)
	}
	conn.Close()
}

func TestTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	p, err := NewTCP(TCPOptions{Port: port})
	if err != nil {
		t.Fatal(err)
	}
	node := rollout.Node{ID: "n", Address: "127.0.0.1"}
	checkErr(t, p.Probe(t.Context(), node), "")

	ln.Close() // the port is now closed
	err = p.Probe(t.Context(), node)
	want := fmt.Sprintf("TCP 127.0.0.1:%d: connection refused", port)
	if err == nil || err.Error() != want {
		t.Fatalf("closed port: got %v, want %q", err, want)
	}
}

func TestValidation(t *testing.T) {
	tests := []struct {
		name string
		o    HTTPOptions
		want string
	}{
		{"port zero", HTTPOptions{}, "port = 0 is invalid: want a port from 1 to 65535"},
		{"port too big", HTTPOptions{Port: 70000}, "port = 70000 is invalid"},
		{"scheme", HTTPOptions{Port: 80, Scheme: "ftp"}, `scheme = "ftp" is invalid: want "http" or "https"`},
		{"relative path", HTTPOptions{Port: 80, Path: "healthz"}, `path = "healthz" is invalid`},
		{"path with host", HTTPOptions{Port: 80, Path: "//evil.example/x"}, `path = "//evil.example/x" is invalid`},
		{"status", HTTPOptions{Port: 80, ExpectStatus: []int{200, 42}}, "expect_status = 42 is invalid: want HTTP status codes from 100 to 599"},
		{"host", HTTPOptions{Port: 80, Host: "a b"}, `host = "a b" is invalid`},
		{"timeout", HTTPOptions{Port: 80, Timeout: -time.Second}, "timeout = -1s is invalid"},
		{"bad CA", HTTPOptions{Port: 80, Scheme: "https", CACertPEM: []byte("nope")}, "ca_cert = (4 bytes) is invalid: want one or more PEM-encoded certificates"},
		{"CA on http", HTTPOptions{Port: 80, InsecureSkipVerify: true}, "apply to https only"},
		{"CA and insecure", HTTPOptions{Port: 443, Scheme: "https", CACertPEM: []byte("x"), InsecureSkipVerify: true}, "insecure_skip_verify = true is invalid: contradicts ca_cert"},
		{"every problem reported", HTTPOptions{Port: -1, Scheme: "gopher"}, "port = -1|scheme = \"gopher\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewHTTP(tt.o)
			checkErr(t, err, tt.want)
			var fe *rollout.FieldError
			if !errors.As(err, &fe) {
				t.Errorf("error %v carries no *rollout.FieldError", err)
			}
		})
	}
	if _, err := NewHTTP(HTTPOptions{Port: 443, Scheme: "https", Host: "web.internal:8443", Path: "/h?x=1"}); err != nil {
		t.Errorf("valid options rejected: %v", err)
	}
	if _, err := NewTCP(TCPOptions{Port: 0}); err == nil || !strings.Contains(err.Error(), "port = 0 is invalid") {
		t.Errorf("NewTCP(port 0) = %v, want a port error", err)
	}
}

func TestMulti(t *testing.T) {
	var calls []string
	probe := func(name string, err error) rollout.Prober {
		return rollout.ProberFunc(func(context.Context, rollout.Node) error {
			calls = append(calls, name)
			return err
		})
	}
	node := rollout.Node{ID: "n"}
	if err := (Multi{probe("a", nil), nil, probe("b", nil)}).Probe(t.Context(), node); err != nil {
		t.Fatalf("all pass: %v", err)
	}
	calls = nil
	boom := errors.New("b failed")
	err := Multi{probe("a", nil), probe("b", boom), probe("c", nil)}.Probe(t.Context(), node)
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want %v", err, boom)
	}
	if got := strings.Join(calls, ","); got != "a,b" {
		t.Errorf("probers run: %s, want a,b (stop at the first failure)", got)
	}
}

func TestCloudHealth(t *testing.T) {
	tests := []struct {
		p      CloudHealth
		health rollout.CloudHealth
		detail string
		want   string
	}{
		{CloudHealth{}, rollout.CloudHealthHealthy, "", ""},
		{CloudHealth{}, rollout.CloudHealthUnknown, "", ""},
		{CloudHealth{}, rollout.CloudHealthUnhealthy, "", "cloud reports node n unhealthy"},
		{CloudHealth{}, rollout.CloudHealthUnhealthy, "ELB: Target.FailedHealthChecks", "cloud reports node n unhealthy: ELB: Target.FailedHealthChecks"},
		{CloudHealth{RequireHealthy: true}, rollout.CloudHealthHealthy, "", ""},
		{CloudHealth{RequireHealthy: true}, rollout.CloudHealthUnknown, "", "cloud has not reported node n healthy yet"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%+v/%q", tt.p, tt.health), func(t *testing.T) {
			checkErr(t, tt.p.Probe(t.Context(), rollout.Node{ID: "n", CloudHealth: tt.health, Detail: tt.detail}), tt.want)
		})
	}
}

// BenchmarkHTTPProbe measures probes per second against a local server with
// bounded concurrency (GOMAXPROCS goroutines, the RunParallel default), each
// probe on a fresh connection as in production, so https pays a full TLS
// handshake per probe. Client and server share the machine's cores.
func BenchmarkHTTPProbe(b *testing.B) {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "ok")
	})
	b.Run("http", func(b *testing.B) {
		node, port := serve(b, handler)
		benchProbe(b, node, mustHTTP(b, HTTPOptions{Port: port, Path: "/healthz", BodyContains: "ok"}))
	})
	b.Run("https", func(b *testing.B) {
		srv := httptest.NewTLSServer(handler)
		b.Cleanup(srv.Close)
		node, port := nodeFor(b, srv)
		ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
		benchProbe(b, node, mustHTTP(b, HTTPOptions{Port: port, Scheme: "https", CACertPEM: ca, Path: "/healthz", BodyContains: "ok"}))
	})
	b.Run("https-reuse", func(b *testing.B) {
		srv := httptest.NewTLSServer(handler)
		b.Cleanup(srv.Close)
		node, port := nodeFor(b, srv)
		ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
		benchProbe(b, node, mustHTTP(b, HTTPOptions{Port: port, Scheme: "https", CACertPEM: ca, Path: "/healthz", BodyContains: "ok", ReuseConnections: true}))
	})
}

func benchProbe(b *testing.B, node rollout.Node, p rollout.Prober) {
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := p.Probe(ctx, node); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "probes/s")
}
