package asg

import (
	"context"
	"errors"
	"net"
	"strings"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/noderoll/terraform-provider-noderoll/rollout"
)

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// ErrorCode classifies an error from this driver by the AWS error code the
// SDK surfaced (smithy.APIError), then by HTTP status, then by transport:
//
//   - *.NotFound, *NotFoundException, ParameterNotFound, and Auto Scaling's
//     ValidationError whose message says "not found" -> NotFound;
//   - RequestLimitExceeded, Throttling, ThrottlingException (and the SDK's
//     other throttle codes) -> Throttled;
//   - LimitExceeded, InstanceLimitExceeded, VcpuLimitExceeded and other
//     account limits -> Quota;
//   - ScalingActivityInProgress, ResourceInUse, IncorrectInstanceState,
//     IncorrectState, IdempotentParameterMismatch... -> Conflict;
//   - ValidationError, InvalidParameter*, Invalid*.Malformed, MissingParameter
//     -> Invalid;
//   - InternalError, ServiceUnavailable, Unavailable, any HTTP 5xx, and
//     connection failures -> Unavailable.
func (d *Driver) ErrorCode(err error) rollout.ErrorCode { return classify(err) }

func classify(err error) rollout.ErrorCode {
	if err == nil {
		return rollout.Unknown
	}
	var re *rollout.Error
	if errors.As(err, &re) {
		return re.Code
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		if c := classifyCode(ae.ErrorCode(), ae.ErrorMessage()); c != rollout.Unknown {
			return c
		}
	}
	var he *smithyhttp.ResponseError
	if errors.As(err, &he) && he.HTTPStatusCode() >= 500 {
		return rollout.Unavailable
	}
	if errors.Is(err, context.Canceled) {
		return rollout.Unknown
	}
	var ne net.Error
	var oe *net.OpError
	if errors.As(err, &oe) || (errors.As(err, &ne) && ne.Timeout()) {
		return rollout.Unavailable
	}
	return rollout.Unknown
}

func classifyCode(code, msg string) rollout.ErrorCode {
	switch code {
	case "":
		return rollout.Unknown
	case "RequestLimitExceeded", "Throttling", "ThrottlingException", "ThrottledException",
		"RequestThrottled", "RequestThrottledException", "TooManyRequestsException",
		"EC2ThrottledException", "SlowDown", "PriorRequestNotComplete":
		return rollout.Throttled
	case "LimitExceeded", "LimitExceededException", "InstanceLimitExceeded", "VcpuLimitExceeded",
		"MaxSpotInstanceCountExceeded", "InsufficientInstanceCapacity", "ResourceLimitExceeded",
		"ParameterLimitExceeded", "ServiceLinkedRoleFailure":
		return rollout.Quota
	case "ScalingActivityInProgress", "ResourceInUse", "ResourceContention", "IncorrectInstanceState",
		"IncorrectState", "IdempotentParameterMismatch", "ConcurrentModification":
		return rollout.Conflict
	case "InternalError", "InternalFailure", "InternalServerError", "ServiceUnavailable",
		"Unavailable", "RequestTimeout", "RequestTimeoutException":
		return rollout.Unavailable
	case "ParameterNotFound", "ParameterVersionNotFound":
		return rollout.NotFound
	case "ValidationError", "ValidationException":
		if strings.Contains(strings.ToLower(msg), "not found") {
			return rollout.NotFound
		}
		return rollout.Invalid
	case "MissingParameter", "UnsupportedOperation", "UnknownParameter", "OptInRequired",
		"AuthFailure", "UnauthorizedOperation", "AccessDenied", "AccessDeniedException":
		return rollout.Invalid
	}
	switch {
	case strings.HasSuffix(code, ".NotFound"), strings.HasSuffix(code, "NotFound"),
		strings.HasSuffix(code, "NotFoundException"), strings.HasSuffix(code, ".VersionNotFound"):
		return rollout.NotFound
	case strings.HasPrefix(code, "InvalidParameter"), strings.HasSuffix(code, ".Malformed"),
		strings.HasPrefix(code, "Invalid"):
		return rollout.Invalid
	case strings.HasSuffix(code, "LimitExceeded"):
		return rollout.Quota
	}
	return rollout.Unknown
}
