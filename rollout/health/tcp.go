package health

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/noderoll/terraform-provider-noderoll/rollout"
)

// TCPOptions configures a TCP connect probe.
type TCPOptions struct {
	// Port is the node's port, 1 to 65535. Required.
	Port int
	// Timeout bounds the connect. 0 means DefaultTimeout.
	Timeout time.Duration
}

// TCPProber passes when a TCP connection to the node's port opens. It is
// safe for concurrent use.
type TCPProber struct {
	port    int
	timeout time.Duration
	dialer  *net.Dialer
}

var _ rollout.Prober = (*TCPProber)(nil)

// NewTCP validates o and returns a prober.
func NewTCP(o TCPOptions) (*TCPProber, error) {
	var errs []error
	bad := func(field, value, want string) {
		errs = append(errs, &rollout.FieldError{Field: field, Value: value, Want: want})
	}
	validatePort(o.Port, bad)
	if o.Timeout < 0 {
		bad("timeout", o.Timeout.String(), `want a positive duration such as "2s" (0 means the default 2s)`)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	return &TCPProber{port: o.Port, timeout: o.Timeout, dialer: guardedDialer()}, nil
}

// Probe opens and closes one connection to the node.
func (p *TCPProber) Probe(ctx context.Context, n rollout.Node) error {
	if n.Address == "" {
		return noAddress(n)
	}
	target := net.JoinHostPort(n.Address, strconv.Itoa(p.port))
	if err := checkHost(n.Address); err != nil {
		return fmt.Errorf("TCP %s: %w", target, err)
	}
	ctx, cancel := context.WithTimeoutCause(ctx, p.timeout, errProbeTimeout)
	defer cancel()
	conn, err := p.dialer.DialContext(ctx, "tcp", target)
	if err != nil {
		return fmt.Errorf("TCP %s: %w", target, describe(ctx, err, p.timeout))
	}
	return conn.Close()
}
