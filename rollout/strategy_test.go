package rollout_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/noderoll/terraform-provider-noderoll/rollout"
)

func TestParseIntOrPercent(t *testing.T) {
	tests := []struct {
		in      string
		want    rollout.IntOrPercent
		wantErr string
	}{
		{in: "0", want: rollout.Count(0)},
		{in: "3", want: rollout.Count(3)},
		{in: " 2 ", want: rollout.Count(2)},
		{in: "25%", want: rollout.Percent(25)},
		{in: "0%", want: rollout.Percent(0)},
		{in: "100%", want: rollout.Percent(100)},
		{in: "", wantErr: "is empty"},
		{in: "%", wantErr: "not a whole number"},
		{in: "abc", wantErr: "not a whole number"},
		{in: "1.5", wantErr: "not a whole number"},
		{in: "2.5%", wantErr: "not a whole number"},
		{in: "+3", wantErr: "not a whole number"},
		{in: "-1", wantErr: "negative"},
		{in: "-5%", wantErr: "negative"},
		{in: "101%", wantErr: "over 100%"},
		{in: "25 %", wantErr: "not a whole number"},
		{in: "%25", wantErr: "not a whole number"},
	}
	for _, tt := range tests {
		got, err := rollout.ParseIntOrPercent(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseIntOrPercent(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseIntOrPercent(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestResolveFenceposts(t *testing.T) {
	tests := []struct {
		surge, unavail string
		size           int
		want           rollout.Budget
	}{
		{"25%", "0", 10, rollout.Budget{Surge: 3, Unavailable: 0}},  // 2.5 rounds up
		{"0", "25%", 10, rollout.Budget{Surge: 0, Unavailable: 2}},  // 2.5 rounds down
		{"25%", "25%", 4, rollout.Budget{Surge: 1, Unavailable: 1}}, // exact
		{"1%", "0", 4, rollout.Budget{Surge: 1, Unavailable: 0}},    // 0.04 rounds up to 1
		{"0%", "10%", 5, rollout.Budget{Surge: 0, Unavailable: 1}},  // 0 and 0.5->0: unavailable becomes 1
		{"0%", "0%", 4, rollout.Budget{Surge: 0, Unavailable: 1}},   // both percentages zero
		{"0", "0%", 4, rollout.Budget{Surge: 0, Unavailable: 1}},    // a percentage involved: allowed
		{"50%", "25%", 4, rollout.Budget{Surge: 2, Unavailable: 1}}, // worked example in Resolve
		{"1", "0", 4, rollout.Budget{Surge: 1, Unavailable: 0}},     // counts as given
		{"0", "3", 2, rollout.Budget{Surge: 0, Unavailable: 2}},     // unavailable capped at size
		{"100%", "0", 3, rollout.Budget{Surge: 3, Unavailable: 0}},  // blue/green
		{"33%", "0", 10, rollout.Budget{Surge: 4, Unavailable: 0}},  // 3.3 up
		{"10%", "10%", 1, rollout.Budget{Surge: 1, Unavailable: 0}}, // size 1
		{"25%", "0", 0, rollout.Budget{Surge: 0, Unavailable: 1}},   // empty pool still resolves
		{"5", "5", 10000, rollout.Budget{Surge: 5, Unavailable: 5}}, // counts don't scale
		{"10%", "5%", 10000, rollout.Budget{Surge: 1000, Unavailable: 500}},
	}
	for _, tt := range tests {
		s := rollout.DefaultStrategy()
		s.MaxSurge = mustParse(t, tt.surge)
		s.MaxUnavailable = mustParse(t, tt.unavail)
		if got := s.Resolve(tt.size); got != tt.want {
			t.Errorf("Resolve(surge %s, unavailable %s, size %d) = %+v, want %+v", tt.surge, tt.unavail, tt.size, got, tt.want)
		}
	}
}

func mustParse(t *testing.T, s string) rollout.IntOrPercent {
	t.Helper()
	v, err := rollout.ParseIntOrPercent(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestStrategyValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*rollout.Strategy)
		field  string
		want   string
	}{
		{"zero and zero", func(s *rollout.Strategy) { s.MaxSurge, s.MaxUnavailable = rollout.Count(0), rollout.Count(0) }, "max_surge", "could never move"},
		{"surge over 100%", func(s *rollout.Strategy) { s.MaxSurge = rollout.Percent(150) }, "max_surge", "0% to 100%"},
		{"negative unavailable", func(s *rollout.Strategy) { s.MaxUnavailable = rollout.Count(-1) }, "max_unavailable", "0 or more"},
		{"threshold 0", func(s *rollout.Strategy) { s.HealthyThreshold = 0 }, "healthy_threshold", "1 or more"},
		{"interval 0", func(s *rollout.Strategy) { s.ProbeInterval = 0 }, "interval", "positive duration"},
		{"negative min_ready", func(s *rollout.Strategy) { s.MinReady = -time.Second }, "min_ready", "0 or a positive"},
		{"deadline below min_ready", func(s *rollout.Strategy) { s.MinReady, s.NodeDeadline = time.Minute, 30*time.Second }, "node_deadline", "more than min_ready"},
		{"no deadline", func(s *rollout.Strategy) { s.NodeDeadline = 0 }, "node_deadline", "positive duration"},
		{"negative canary", func(s *rollout.Strategy) { s.CanaryCount = -2 }, "canary_count", "0 (no canary)"},
		{"bad policy", func(s *rollout.Strategy) { s.OnFailure = "retry" }, "on_failure", `"rollback" or "halt"`},
		{"negative pause", func(s *rollout.Strategy) { s.PauseBetweenWaves = -time.Second }, "pause_between_waves", "0 or a positive"},
	}
	if errs := rollout.DefaultStrategy().Validate(); len(errs) != 0 {
		t.Fatalf("DefaultStrategy invalid: %v", errs)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := rollout.DefaultStrategy()
			tt.mutate(&s)
			errs := s.Validate()
			if len(errs) != 1 {
				t.Fatalf("Validate() = %v, want exactly one error", errs)
			}
			var fe *rollout.FieldError
			if !errors.As(errs[0], &fe) || fe.Field != tt.field || !strings.Contains(fe.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want field %s with %q", errs[0], tt.field, tt.want)
			}
		})
	}
}

func TestSpecValidate(t *testing.T) {
	errs := rollout.Spec{Size: -1, Image: " "}.Validate()
	if len(errs) != 2 {
		t.Fatalf("want 2 errors, got %v", errs)
	}
	if !strings.Contains(errs[0].Error(), "size = -1") || !strings.Contains(errs[1].Error(), "image") {
		t.Fatalf("errors do not name the fields: %v", errs)
	}
	if errs := (rollout.Spec{Size: 0, Image: "v1"}).Validate(); len(errs) != 0 {
		t.Fatalf("size 0 is a valid (empty) pool: %v", errs)
	}
}
