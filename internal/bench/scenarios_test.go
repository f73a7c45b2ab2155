package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"regexp"
	"testing"
	"testing/synctest"
	"time"
)

// The benchmark scenarios run from this test binary because each needs a
// synctest bubble (virtual time), which only a *testing.T can open. The
// `bench` command runs `go test -run '^TestBenchScenarios$'` with these
// flags and renders the report from the results file.
var (
	resultsFile = flag.String("bench.results", "", "run the benchmark scenarios and write their results (JSON) here")
	benchSeed   = flag.Int64("bench.seed", 1, "seed for the scenarios' simulated clouds")
	benchOnly   = flag.String("bench.only", "", "run only scenarios whose name matches this regular expression")
)

func TestBenchScenarios(t *testing.T) {
	if *resultsFile == "" {
		t.Skip("benchmark scenarios run only with -bench.results (see `make bench`)")
	}
	only, err := regexp.Compile(*benchOnly)
	if err != nil {
		t.Fatalf("-bench.only: %v", err)
	}
	var results []Result
	for _, sc := range Matrix() {
		if !only.MatchString(sc.Name) {
			continue
		}
		t.Run(sc.Name, func(t *testing.T) {
			wall := time.Now()
			var res Result
			synctest.Test(t, func(t *testing.T) {
				var err error
				res, err = RunScenario(t.Context(), sc, *benchSeed)
				if err != nil {
					t.Fatal(err)
				}
			})
			results = append(results, res)
			fmt.Fprintf(os.Stderr, "ran %s in %s\n", sc.Name, time.Since(wall).Round(time.Millisecond))
		})
	}
	out, err := json.Marshal(results)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(*resultsFile, out, 0o644); err != nil {
		t.Fatal(err)
	}
}
