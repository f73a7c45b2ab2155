//go:build linux

package local

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/noderoll/terraform-provider-noderoll/rollout"
	"github.com/noderoll/terraform-provider-noderoll/rollout/drivertest"
)

func TestConformance(t *testing.T) {
	broken := rollout.Spec{Image: "v3", MachineType: "small"} // serves, but /healthz answers 500
	drivertest.Run(t, drivertest.Harness{
		New: func(t *testing.T) (rollout.Driver, rollout.Prober) {
			e := newEnv(t)
			return e.driver(e.options("conformance")), healthz{}
		},
		Spec: func(i int) rollout.Spec {
			return rollout.Spec{Image: fmt.Sprintf("v%d", i+1), MachineType: "small"}
		},
		Broken:       &broken,
		Timeout:      30 * time.Second,
		Poll:         50 * time.Millisecond,
		BrokenWindow: time.Second,
	})
}

// healthz probes GET /healthz on the node's address and the test port, as
// the engine's HTTP prober would.
type healthz struct{}

func (healthz) Probe(ctx context.Context, n rollout.Node) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	url := "http://" + net.JoinHostPort(n.Address, strconv.Itoa(testPort)) + "/healthz"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}
