package health

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// RefusedError is returned when a probe target is an address noderoll never
// probes: link-local, cloud metadata, unspecified, multicast or broadcast.
// Probing those could leak instance credentials (the metadata services hand
// them out to anything that asks) or reach hosts that are not pool nodes.
type RefusedError struct {
	Address string // the host or IP as given or resolved
	Reason  string // "link-local/metadata address", ...
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("refusing to probe %s: %s", e.Address, e.Reason)
}

// metadataAddrs are the clouds' instance metadata services. Most sit in
// 169.254.0.0/16 and are caught as link-local anyway; they are listed so the
// error can say "metadata" and so the routable ones are caught at all.
var metadataAddrs = map[netip.Addr]bool{
	netip.MustParseAddr("169.254.169.254"): true, // AWS, GCP, Azure, OCI, OpenStack
	netip.MustParseAddr("169.254.170.2"):   true, // AWS ECS task metadata
	netip.MustParseAddr("fd00:ec2::254"):   true, // AWS IPv6 IMDS
	netip.MustParseAddr("fd20:ce::254"):    true, // GCP IPv6 metadata
	netip.MustParseAddr("100.100.100.200"): true, // Alibaba Cloud
}

// nat64 is the well-known NAT64 prefix (RFC 6052): its last 32 bits are an
// IPv4 address the gateway translates to.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// metadataNames are host names that resolve to a metadata service inside a
// cloud's VPC. Refused before resolution; the dial-time check on the address
// catches any other name that resolves there.
var metadataNames = map[string]bool{
	"metadata.google.internal":   true,
	"metadata.goog":              true,
	"metadata":                   true, // GCE search domains make the bare name resolve
	"instance-data":              true, // EC2 resolves instance-data(.ec2.internal)
	"instance-data.ec2.internal": true,
}

// checkAddr refuses addresses noderoll never probes. Loopback and private
// ranges are allowed: pool nodes live there (and tests use 127.0.0.0/8).
func checkAddr(a netip.Addr) error {
	a = a.Unmap() // ::ffff:169.254.169.254 is 169.254.169.254
	if reason := refusal(a); reason != "" {
		return &RefusedError{a.WithZone("").String(), reason}
	}
	return nil
}

// refusal is why a is never probed, or "" when it may be.
func refusal(a netip.Addr) string {
	switch {
	case metadataAddrs[a.WithZone("")]:
		return "link-local/metadata address"
	case a.IsLinkLocalUnicast():
		return "link-local address"
	case a.IsUnspecified():
		return "unspecified address"
	case a.IsMulticast():
		return "multicast address"
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return "broadcast address"
	case nat64.Contains(a):
		// 64:ff9b::a9fe:a9fe reaches 169.254.169.254 through a NAT64 gateway.
		b := a.As16()
		if r := refusal(netip.AddrFrom4([4]byte(b[12:]))); r != "" {
			return r + " (NAT64)"
		}
	}
	return ""
}

// checkHost validates a node's Address before any dial: it must be an IP
// literal or a host name (no port, scheme or path), and neither a refused
// address nor a metadata host name.
func checkHost(host string) error {
	if host == "" {
		return errors.New("node has no address: the backend reported none, so there is nothing to probe")
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return checkAddr(a)
	}
	name := strings.TrimSuffix(strings.ToLower(host), ".")
	if !validHostname(name) {
		return fmt.Errorf("node address %q is neither an IP address nor a host name", host)
	}
	if metadataNames[name] {
		return &RefusedError{host, "cloud metadata host name"}
	}
	return nil
}

// validHostname accepts RFC 1123 names: dot-separated labels of letters,
// digits and inner hyphens (underscores tolerated, some private DNS uses them).
func validHostname(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// guardedDialer returns a dialer whose Control func checks the address the
// socket is about to connect to, after DNS resolution: a name that resolves
// to a metadata or link-local address is refused at connect time, whatever
// the DNS answer said when the name was checked.
func guardedDialer() *net.Dialer {
	return &net.Dialer{
		// Probes need no TCP keep-alive probing: connections are short-lived.
		KeepAlive: -1,
		Control: func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("refusing to probe %s: not an IP address and port", address)
			}
			return checkAddr(ap.Addr())
		},
	}
}

// describe turns a dial or HTTP error into the words a report needs: the
// refusal, "connection refused", "timed out after 2s", the DNS failure.
// The original error stays in the chain for errors.Is and errors.As.
func describe(ctx context.Context, err error, timeout time.Duration) error {
	var refused *RefusedError
	var dnsErr *net.DNSError
	var errno syscall.Errno
	switch {
	case errors.As(err, &refused):
		return refused
	case ctx.Err() != nil && errors.Is(context.Cause(ctx), errProbeTimeout):
		return fmt.Errorf("timed out after %s: %w", timeout, context.DeadlineExceeded)
	case ctx.Err() != nil:
		return fmt.Errorf("probe stopped: %w", context.Cause(ctx))
	case errors.As(err, &dnsErr):
		return dnsErr
	case errors.As(err, &errno):
		return &shortError{errno.Error(), err}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err // the caller's message already names method and URL
	}
	return err
}

// shortError prints a short message and keeps the full error in the chain.
type shortError struct {
	msg string
	err error
}

func (e *shortError) Error() string { return e.msg }
func (e *shortError) Unwrap() error { return e.err }

// errProbeTimeout marks the probe's own deadline, so a timeout is told
// apart from the caller cancelling the probe.
var errProbeTimeout = errors.New("probe timeout")
