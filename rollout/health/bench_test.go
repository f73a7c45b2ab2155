package health

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/noderoll/terraform-provider-noderoll/rollout"
)

func benchServer(b *testing.B) (rollout.Node, int) {
	return serve(b, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") }))
}

// BenchmarkHTTPProbeSerial is one probe at a time on loopback (a fresh
// connection, a GET and a body check, as the executor sends per node per
// interval): the latency of one probe, where BenchmarkHTTPProbe measures
// throughput in parallel.
func BenchmarkHTTPProbeSerial(b *testing.B) {
	n, port := benchServer(b)
	p, err := NewHTTP(HTTPOptions{Port: port, Path: "/healthz", BodyContains: "ok"})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Probe(ctx, n); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTCPProbe is one TCP connect probe on loopback.
func BenchmarkTCPProbe(b *testing.B) {
	n, port := benchServer(b)
	p, err := NewTCP(TCPOptions{Port: port})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Probe(ctx, n); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckHost is the address guard every probe runs first.
func BenchmarkCheckHost(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if err := checkHost("10.1.2.3"); err != nil {
			b.Fatal(err)
		}
	}
}
