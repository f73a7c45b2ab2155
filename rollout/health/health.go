// Package health implements rollout.Prober: HTTP, HTTPS and TCP probes, the
// cloud's own health signal, and Multi to require several at once.
//
// Probes go only to the address the backend reported for a node, and never
// to link-local, cloud metadata, unspecified, multicast or broadcast
// addresses. The check runs again on the resolved address at connect time,
// so a host name whose DNS answer points at a metadata service is refused
// too. Redirects are not followed and TLS is verified unless explicitly
// turned off.
package health

import (
	"context"
	"fmt"

	"github.com/noderoll/terraform-provider-noderoll/rollout"
)

// Multi passes when every prober in it passes. Probers run in order and the
// first failure is returned, so cheap checks (CloudHealth) belong first.
// Nil entries are skipped.
type Multi []rollout.Prober

// Probe runs each prober in turn.
func (m Multi) Probe(ctx context.Context, n rollout.Node) error {
	for _, p := range m {
		if p == nil {
			continue
		}
		if err := p.Probe(ctx, n); err != nil {
			return err
		}
	}
	return nil
}

// CloudHealth judges a node by the cloud's own health signal (ASG health
// status, load balancer target health, MIG health check), as the backend
// reported it in Node.CloudHealth. It makes no network call.
type CloudHealth struct {
	// RequireHealthy fails a node the cloud has no verdict on yet. By
	// default only an explicit "unhealthy" fails, so pools on clouds (or
	// groups) without a health signal still pass.
	RequireHealthy bool
}

// Probe fails when the cloud reports the node unhealthy.
func (c CloudHealth) Probe(_ context.Context, n rollout.Node) error {
	switch {
	case n.CloudHealth == rollout.CloudHealthUnhealthy:
		if n.Detail != "" {
			return fmt.Errorf("cloud reports node %s unhealthy: %s", n.ID, n.Detail)
		}
		return fmt.Errorf("cloud reports node %s unhealthy", n.ID)
	case c.RequireHealthy && n.CloudHealth != rollout.CloudHealthHealthy:
		return fmt.Errorf("cloud has not reported node %s healthy yet", n.ID)
	}
	return nil
}

var (
	_ rollout.Prober = Multi(nil)
	_ rollout.Prober = CloudHealth{}
)
