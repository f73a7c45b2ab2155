// Command bench runs noderoll's benchmark suite and writes BENCHMARKS.md
// with a table, SVG plots and one machine-readable line per scenario:
//
//	go run ./internal/bench -out BENCHMARKS.md -plots docs/bench
//
// The rollout scenarios run on the simulated cloud (internal/sim) in
// virtual time. Virtual time needs a testing/synctest bubble, which only a
// *testing.T can open, so this command runs the scenarios through this
// package's own test binary (`go test -run '^TestBenchScenarios$'` with
// -bench.* flags, see scenarios_test.go), reads the results it writes as
// JSON, and renders them. The command itself measures the HTTP prober with
// real sockets: it starts a copy of itself as the endpoint server
// (-serve-endpoints) and probes it over loopback.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

const pkgPath = "github.com/noderoll/terraform-provider-noderoll/internal/bench"

func main() {
	var (
		out       = flag.String("out", "BENCHMARKS.md", "write the report here")
		plots     = flag.String("plots", "docs/bench", "write the SVG plots into this directory")
		seed      = flag.Int64("seed", 1, "seed for the simulated clouds")
		only      = flag.String("only", "", "run only scenarios whose name matches this regular expression")
		results   = flag.String("results", "", "render scenario results from this JSON file instead of running the scenarios")
		save      = flag.String("save-results", "", "also keep the scenario results (JSON) in this file")
		endpoints = flag.Int("prober-endpoints", 10000, "loopback endpoints for the HTTP prober measurement; 0 skips it")
		serve     = flag.Int("serve-endpoints", 0, "internal: serve this many loopback endpoints until stdin closes")
	)
	flag.Parse()
	if *serve > 0 {
		if err := serveEndpoints(*serve); err != nil {
			fmt.Fprintln(os.Stderr, "bench: endpoint server:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *out, *plots, *seed, *only, *results, *save, *endpoints); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out, plots string, seed int64, only, resultsFile, save string, endpoints int) error {
	started := time.Now()
	var rs []Result
	if resultsFile == "" {
		tmp, err := os.CreateTemp("", "noderoll-bench-*.json")
		if err != nil {
			return err
		}
		tmp.Close()
		defer os.Remove(tmp.Name())
		resultsFile = tmp.Name()
		if err := runScenarios(ctx, resultsFile, seed, only); err != nil {
			return err
		}
	}
	raw, err := os.ReadFile(resultsFile)
	if err != nil {
		return fmt.Errorf("read scenario results: %w", err)
	}
	if err := json.Unmarshal(raw, &rs); err != nil {
		return fmt.Errorf("parse scenario results %s: %w", resultsFile, err)
	}
	if save != "" {
		if err := os.WriteFile(save, raw, 0o644); err != nil {
			return err
		}
	}
	var pb *ProberBench
	if endpoints > 0 {
		fmt.Fprintf(os.Stderr, "bench: probing %d loopback endpoints\n", endpoints)
		b, err := runProberBench(ctx, endpoints, []int{32, 128, 512})
		if err != nil {
			return fmt.Errorf("prober bench: %w", err)
		}
		pb = &b
	}
	if err := os.MkdirAll(plots, 0o755); err != nil {
		return err
	}
	rel, err := filepath.Rel(filepath.Dir(out), plots)
	if err != nil {
		rel = plots
	}
	for _, r := range rs {
		if !r.Scenario.Headline {
			continue
		}
		if err := os.WriteFile(filepath.Join(plots, r.Scenario.Name+".svg"), []byte(plotResult(r)), 0o644); err != nil {
			return err
		}
	}
	report := Render(rs, pb, ReportInfo{Seed: seed, PlotDir: filepath.ToSlash(rel), Wall: time.Since(started), Commit: commitOf(ctx)})
	if err := os.WriteFile(out, []byte(report), 0o644); err != nil {
		return err
	}
	for _, r := range rs {
		fmt.Println(Line(r))
	}
	if pb != nil {
		for _, r := range pb.Rounds {
			fmt.Printf("bench prober=http endpoints=%d concurrency=%d probes_per_sec=%.0f cpu_ms_per_round=%.0f failed=%d\n",
				r.Endpoints, r.Concurrency, r.PerSecond, r.CPUSeconds*1000, r.Failed)
		}
	}
	return nil
}

// commitOf names the engine the figures belong to: the commit, and
// whether the engine or the simulator had uncommitted changes.
func commitOf(ctx context.Context) string {
	head, err := exec.CommandContext(ctx, "git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown commit"
	}
	c := "commit " + strings.TrimSpace(string(head))
	if dirty, err := exec.CommandContext(ctx, "git", "status", "--porcelain", "--", "rollout", "internal/sim").Output(); err == nil && len(dirty) > 0 {
		c += " with uncommitted changes in rollout/ or internal/sim/"
	}
	return c
}

// runScenarios runs the scenarios in this package's test binary, which
// opens a synctest bubble per scenario, and streams its progress.
func runScenarios(ctx context.Context, resultsFile string, seed int64, only string) error {
	cmd := exec.CommandContext(ctx, "go", "test", "-count=1", "-v", "-timeout", "60m",
		"-run", "^TestBenchScenarios$", pkgPath, "-args",
		"-bench.results="+resultsFile, "-bench.seed="+strconv.FormatInt(seed, 10), "-bench.only="+only)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("run scenarios (go test %s): %w", pkgPath, err)
	}
	return nil
}
