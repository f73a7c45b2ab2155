package rollout

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrorCode is the portable class of a backend error. The engine decides
// retry, wait or fail from the code alone, the same way on every cloud.
type ErrorCode int

const (
	// Unknown errors fail the operation.
	Unknown ErrorCode = iota
	// NotFound: the thing is gone (removing it again succeeds).
	NotFound
	// Throttled: the API's rate limit; retry after a backoff.
	Throttled
	// Quota: an account limit (instances, vCPUs); retrying won't help soon.
	Quota
	// Conflict: a concurrent change or an operation in progress; retry.
	Conflict
	// Invalid: the request can never succeed as written.
	Invalid
	// Unavailable: 5xx, timeouts, connection resets; retry.
	Unavailable
)

func (c ErrorCode) String() string {
	switch c {
	case NotFound:
		return "not found"
	case Throttled:
		return "throttled"
	case Quota:
		return "quota exceeded"
	case Conflict:
		return "conflict"
	case Invalid:
		return "invalid"
	case Unavailable:
		return "unavailable"
	}
	return "unknown"
}

// Retryable reports whether an error of this class may succeed if repeated.
func (c ErrorCode) Retryable() bool {
	return c == Throttled || c == Conflict || c == Unavailable
}

// Error is an error a backend may return when it already knows the class.
// Backends wrapping raw SDK errors classify them in Driver.ErrorCode instead.
type Error struct {
	Code ErrorCode
	// RetryAfter is the server's requested wait, when it gave one.
	RetryAfter time.Duration
	Err        error
}

func (e *Error) Error() string {
	if e.Err == nil {
		return e.Code.String()
	}
	return fmt.Sprintf("%v (%s)", e.Err, e.Code)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error of the given class.
func Errorf(code ErrorCode, format string, args ...any) error {
	return &Error{Code: code, Err: fmt.Errorf(format, args...)}
}

// CodeOf classifies err: an *Error anywhere in the chain wins, then the
// driver's own classification, then context errors.
func CodeOf(d Driver, err error) ErrorCode {
	if err == nil {
		return Unknown
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if d != nil {
		if c := d.ErrorCode(err); c != Unknown {
			return c
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return Unavailable
	}
	return Unknown
}

// RetryAfterOf returns the server's requested wait carried by err, or 0.
func RetryAfterOf(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}
