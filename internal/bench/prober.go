package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/noderoll/terraform-provider-noderoll/rollout"
	"github.com/noderoll/terraform-provider-noderoll/rollout/health"
)

// ProberResult is one round of HTTP probes over every endpoint.
type ProberResult struct {
	Endpoints   int     `json:"endpoints"`
	Concurrency int     `json:"concurrency"`
	Seconds     float64 `json:"seconds"`       // wall time of the round
	PerSecond   float64 `json:"per_second"`    // probes per second
	CPUSeconds  float64 `json:"cpu_seconds"`   // this process's user+system CPU in the round
	Failed      int     `json:"failed"`        // probes that did not pass
	PeakHeapMiB float64 `json:"peak_heap_mib"` // heap objects during the round
	FirstError  string  `json:"first_error,omitempty"`
}

// ProberBench is the loopback prober measurement.
type ProberBench struct {
	Requested int            `json:"requested"`
	FDLimit   uint64         `json:"fd_limit"`
	Note      string         `json:"note,omitempty"`
	Rounds    []ProberResult `json:"rounds"`
}

// raiseFDLimit lifts the soft open-file limit to the hard limit and
// returns the soft limit in force.
func raiseFDLimit() uint64 {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 1024
	}
	if l.Cur < l.Max {
		up := l
		up.Cur = l.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &up); err == nil {
			return up.Cur
		}
	}
	return l.Cur
}

// endpointAddr is the i-th endpoint's loopback address: 127.1.0.1 upward,
// skipping .0 and .255 in the last byte. Linux routes all of 127.0.0.0/8
// to the loopback interface, so every one of them is bindable.
func endpointAddr(i int) string {
	i = i/254*256 + i%254 + 1
	return fmt.Sprintf("127.%d.%d.%d", 1+i>>16, (i>>8)&0xff, i&0xff)
}

// serveEndpoints is the child process: it binds up to n loopback addresses
// on one port, serves "ok" on each from four HTTP servers, prints
// "ready <port> <count>" and serves until its standard input closes.
func serveEndpoints(n int) error {
	limit := raiseFDLimit()
	if room := int(limit) - 64; n > room {
		n = max(0, room)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	servers := make([]*http.Server, 4)
	for i := range servers {
		servers[i] = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	}
	first, err := net.Listen("tcp", endpointAddr(0)+":0")
	if err != nil {
		return fmt.Errorf("listen on %s: %w", endpointAddr(0), err)
	}
	port := first.Addr().(*net.TCPAddr).Port
	lns := []net.Listener{first}
	for i := 1; i < n; i++ {
		l, err := net.Listen("tcp", net.JoinHostPort(endpointAddr(i), strconv.Itoa(port)))
		if err != nil {
			break // out of descriptors or the port is taken there: serve what we have
		}
		lns = append(lns, l)
	}
	for i, l := range lns {
		go servers[i%len(servers)].Serve(l)
	}
	fmt.Printf("ready %d %d\n", port, len(lns))
	io.Copy(io.Discard, os.Stdin) // until the parent closes our stdin
	for _, s := range servers {
		s.Close()
	}
	return nil
}

// runProberBench starts the endpoint server process, probes every
// endpoint once per round with the engine's pattern (one goroutine per
// probe, a semaphore bounding those in flight) at each concurrency, and
// stops the server.
func runProberBench(ctx context.Context, endpoints int, concurrencies []int) (ProberBench, error) {
	pb := ProberBench{Requested: endpoints, FDLimit: raiseFDLimit()}
	// The prober needs two descriptors per probe in flight only in the
	// server, one here; the server needs one per endpoint.
	maxConc := 0
	for _, c := range concurrencies {
		maxConc = max(maxConc, c)
	}
	if need := uint64(maxConc + 64); pb.FDLimit < need {
		return pb, fmt.Errorf("open-file limit %d is below the %d the prober bench needs", pb.FDLimit, need)
	}
	self, err := os.Executable()
	if err != nil {
		return pb, fmt.Errorf("find own executable to start the endpoint server: %w", err)
	}
	cmd := exec.CommandContext(ctx, self, "-serve-endpoints", strconv.Itoa(endpoints))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return pb, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return pb, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return pb, fmt.Errorf("start endpoint server: %w", err)
	}
	defer func() {
		stdin.Close()
		if err := cmd.Wait(); err != nil && ctx.Err() == nil {
			fmt.Fprintf(os.Stderr, "endpoint server: %v\n", err)
		}
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		return pb, fmt.Errorf("endpoint server did not start: %w", err)
	}
	var port, count int
	if _, err := fmt.Sscanf(strings.TrimSpace(line), "ready %d %d", &port, &count); err != nil {
		return pb, fmt.Errorf("endpoint server said %q: %w", line, err)
	}
	if count < endpoints {
		pb.Note = fmt.Sprintf("the server bound %d of %d endpoints (open-file limit); figures are for %d", count, endpoints, count)
	}
	p, err := health.NewHTTP(health.HTTPOptions{Port: port, Path: "/healthz", BodyContains: "ok", Timeout: 5 * time.Second})
	if err != nil {
		return pb, err
	}
	nodes := make([]rollout.Node, count)
	for i := range nodes {
		nodes[i] = rollout.Node{ID: "n-" + strconv.Itoa(i), Address: endpointAddr(i), State: rollout.NodeRunning}
	}
	// A warm-up round at low concurrency: first connections to each address
	// populate the kernel's neighbour and route caches.
	if _, err := probeRound(ctx, p, nodes, 16); err != nil {
		return pb, err
	}
	for _, c := range concurrencies {
		r, err := probeRound(ctx, p, nodes, c)
		if err != nil {
			return pb, err
		}
		pb.Rounds = append(pb.Rounds, r)
	}
	return pb, nil
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// probeRound probes every node once, at most c at a time, as the executor
// does, and measures it.
func probeRound(ctx context.Context, p rollout.Prober, nodes []rollout.Node, c int) (ProberResult, error) {
	res := ProberResult{Endpoints: len(nodes), Concurrency: c}
	runtime.GC()
	stop := make(chan struct{})
	var peak uint64
	var sampler sync.WaitGroup
	sampler.Go(func() {
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			peak = max(peak, s[0].Value.Uint64())
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	})
	errs := make([]error, len(nodes))
	sem := make(chan struct{}, c)
	var wg sync.WaitGroup
	cpu0, t0 := cpuTime(), time.Now()
	for i, n := range nodes {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = p.Probe(ctx, n)
		})
	}
	wg.Wait()
	res.Seconds = time.Since(t0).Seconds()
	res.CPUSeconds = (cpuTime() - cpu0).Seconds()
	close(stop)
	sampler.Wait()
	res.PeakHeapMiB = float64(peak) / (1 << 20)
	res.PerSecond = float64(len(nodes)) / res.Seconds
	for _, err := range errs {
		if err != nil {
			if res.Failed++; res.FirstError == "" {
				res.FirstError = err.Error()
			}
		}
	}
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	if res.Failed == len(nodes) {
		return res, errors.New("every probe failed: " + res.FirstError)
	}
	return res, nil
}
