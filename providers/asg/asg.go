// Package asg is noderoll's AWS backend: a pool is an EC2 Auto Scaling group,
// and a template is a numbered version of an EC2 launch template.
//
// PrepareTemplate makes a new version of the user's base launch template (as
// created by aws_launch_template) with the spec's AMI and instance type, and
// reuses it for the same spec. The group is pointed at that numbered version
// (never $Latest or $Default, so nothing changes under a running rollout).
// Tags on the group carry what Auto Scaling does not model: the pool it
// belongs to, and the template a rollout in progress came from.
//
// Credentials come from the SDK's default chain (environment, shared config
// and profile, SSO, web identity, container and instance roles), optionally
// exchanged for an assumed role. The driver never stores them.
package asg

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/middleware"

	"github.com/noderoll/terraform-provider-noderoll/rollout"
)

// Tags noderoll keeps on the Auto Scaling group.
const (
	// TagPool names the pool the group belongs to (propagated to instances).
	TagPool = "noderoll:pool"
	// TagManaged marks groups noderoll created ("true").
	TagManaged = "noderoll:managed"
	// TagOrigin holds the template ID a rollout in progress started from.
	TagOrigin = "noderoll:origin"
	// TagMaxSize holds the group's MaxSize from before Resize raised it.
	TagMaxSize = "noderoll:max-size"
	// TagMinSize holds the group's MinSize from before noderoll lowered it.
	TagMinSize = "noderoll:min-size"
)

// DefaultMaxSize is the MaxSize of a group noderoll creates when
// Options.MaxSize is 0. Resize raises it when a pool grows beyond it.
const DefaultMaxSize = 100

// Endpoints override the service endpoints (for tests, VPC endpoints or
// FIPS endpoints). Empty fields use the SDK's resolution for the Region.
type Endpoints struct {
	EC2         string
	AutoScaling string
	SSM         string
}

// RetryOptions tune the SDK's standard retryer. Zero fields take defaults.
type RetryOptions struct {
	// MaxAttempts per API call, first attempt included. Default 6.
	MaxAttempts int
	// BaseDelay is the first backoff for transient errors (5xx, resets).
	// Default 100ms.
	BaseDelay time.Duration
	// ThrottleBaseDelay is the first backoff after a throttling error. It is
	// larger than BaseDelay because a throttled account needs its token
	// bucket refilled (EC2 refills non-mutating buckets at 20 per second and
	// mutating ones at 5). Default 1s.
	ThrottleBaseDelay time.Duration
	// MaxBackoff caps one backoff. Default 20s.
	MaxBackoff time.Duration
	// RetryTokens sizes the client-side retry bucket shared by all of this
	// driver's calls: a throttled retry costs 5 tokens, another retry 14, and
	// a call that succeeds at once returns 1. Default 500.
	RetryTokens uint
}

// Options configure a Driver.
type Options struct {
	// Region, e.g. "eu-west-1". Empty: the default chain's (AWS_REGION, profile).
	Region string
	// Profile is a shared config profile. Empty: the default chain's.
	Profile string
	// AssumeRoleARN, when set, is assumed (through STS) with the default
	// chain's credentials; the session is named "noderoll".
	AssumeRoleARN string
	Endpoints     Endpoints

	// GroupName is the Auto Scaling group. Empty: "noderoll-" + PoolName.
	GroupName string
	// PoolName identifies the pool in tags and template descriptions.
	// Empty: GroupName. One of the two is required.
	PoolName string
	// SubnetIDs the group launches into (VPCZoneIdentifier). Used by Create.
	SubnetIDs []string
	// LaunchTemplateID or LaunchTemplateName is the base launch template
	// (as made by aws_launch_template). Its default version is the source of
	// every version noderoll makes. One is required.
	LaunchTemplateID   string
	LaunchTemplateName string
	// TargetGroupARNs attach the group to load balancer target groups (Create).
	TargetGroupARNs []string
	// UseELBHealth makes the group use load balancer health (HealthCheckType
	// ELB) so Node.CloudHealth follows target health. Used by Create.
	UseELBHealth bool
	// HealthCheckGracePeriod before the group judges a new instance. Default 0.
	HealthCheckGracePeriod time.Duration
	// MinSize and MaxSize of a group Create makes. MaxSize 0: DefaultMaxSize.
	// The group is created with MinSize 0 (and desired 0) so the engine can
	// grow it health-gated; MinSize is recorded in the noderoll:min-size tag
	// and applied by the first Resize that reaches it.
	MinSize int
	MaxSize int

	// HTTPClient, when set, carries every API request.
	HTTPClient *http.Client
	// Credentials, when set, replace the default chain (tests use static
	// credentials). AssumeRoleARN still applies on top.
	Credentials aws.CredentialsProvider
	Retry       RetryOptions
	// Limiter, when set, paces every request of this driver (see
	// RequestLimiter); share one between the pools of an account and Region.
	Limiter *RequestLimiter
}

func (o Options) group() string {
	if o.GroupName != "" {
		return o.GroupName
	}
	return "noderoll-" + o.PoolName
}

func (o Options) pool() string {
	if o.PoolName != "" {
		return o.PoolName
	}
	return o.GroupName
}

// Driver is a pool on EC2 Auto Scaling. It implements rollout.Driver and
// rollout.Lifecycle and is safe for concurrent use.
type Driver struct {
	o     Options
	ec2   *ec2.Client
	asg   *autoscaling.Client
	ssm   *ssm.Client
	group string
	pool  string

	mu        sync.Mutex
	templates map[string]rollout.Template // "lt-id:version" -> contents; numbered versions are immutable
	descs     map[string]string           // "lt-id:version" -> version description, cached with templates
	baseID    string                      // resolved base launch template id
}

var (
	_ rollout.Driver    = (*Driver)(nil)
	_ rollout.Lifecycle = (*Driver)(nil)
)

// New validates o and builds the SDK clients. It makes no API call.
func New(ctx context.Context, o Options) (*Driver, error) {
	var bad []string
	if o.GroupName == "" && o.PoolName == "" {
		bad = append(bad, "group_name or pool name: want a non-empty name")
	}
	if o.LaunchTemplateID == "" && o.LaunchTemplateName == "" {
		bad = append(bad, "launch_template_id or launch_template_name: want the base launch template")
	}
	if o.MinSize < 0 || o.MaxSize < 0 || (o.MaxSize > 0 && o.MinSize > o.MaxSize) {
		bad = append(bad, fmt.Sprintf("min_size %d / max_size %d: want 0 <= min_size <= max_size", o.MinSize, o.MaxSize))
	}
	if len(bad) > 0 {
		return nil, rollout.Errorf(rollout.Invalid, "asg: invalid options: %s", strings.Join(bad, "; "))
	}
	cfg, err := loadConfig(ctx, o)
	if err != nil {
		return nil, err
	}
	return &Driver{
		o:         o,
		ec2:       ec2.NewFromConfig(cfg, func(eo *ec2.Options) { setEndpoint(&eo.BaseEndpoint, o.Endpoints.EC2) }),
		asg:       autoscaling.NewFromConfig(cfg, func(ao *autoscaling.Options) { setEndpoint(&ao.BaseEndpoint, o.Endpoints.AutoScaling) }),
		ssm:       ssm.NewFromConfig(cfg, func(so *ssm.Options) { setEndpoint(&so.BaseEndpoint, o.Endpoints.SSM) }),
		group:     o.group(),
		pool:      o.pool(),
		templates: map[string]rollout.Template{},
		descs:     map[string]string{},
	}, nil
}

func setEndpoint(dst **string, url string) {
	if url != "" {
		*dst = aws.String(url)
	}
}

// loadConfig resolves region and credentials through the SDK's default
// chain and installs the tuned retryer.
func loadConfig(ctx context.Context, o Options) (aws.Config, error) {
	var lo []func(*config.LoadOptions) error
	if o.Region != "" {
		lo = append(lo, config.WithRegion(o.Region))
	}
	if o.Profile != "" {
		lo = append(lo, config.WithSharedConfigProfile(o.Profile))
	}
	if o.HTTPClient != nil {
		lo = append(lo, config.WithHTTPClient(o.HTTPClient))
	}
	if o.Credentials != nil {
		lo = append(lo, config.WithCredentialsProvider(o.Credentials))
	}
	lo = append(lo, config.WithRetryer(newRetryer(o.Retry)))
	if o.Limiter != nil {
		lo = append(lo, config.WithAPIOptions([]func(*middleware.Stack) error{o.Limiter.apiOption}))
	}
	cfg, err := config.LoadDefaultConfig(ctx, lo...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("asg: load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return aws.Config{}, rollout.Errorf(rollout.Invalid, "asg: no AWS region: set region or AWS_REGION")
	}
	if o.AssumeRoleARN != "" {
		p := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), o.AssumeRoleARN, func(ao *stscreds.AssumeRoleOptions) {
			ao.RoleSessionName = "noderoll"
		})
		cfg.Credentials = aws.NewCredentialsCache(p)
	}
	return cfg, nil
}

// newRetryer returns the factory every client calls. The retry token bucket
// is shared by the three clients, because throttling is per account: in a
// throttling storm each throttled retry takes 5 tokens and each success
// returns some, so after about RetryTokens/5 unanswered retries calls stop
// retrying inside the SDK and fail at once with the throttling error. The
// driver classifies that as rollout.Throttled, and the engine waits a whole
// tick before trying again, instead of every goroutine hammering an API that
// is already refusing the account (and other tools sharing its buckets).
func newRetryer(r RetryOptions) func() aws.Retryer {
	if r.MaxAttempts <= 0 {
		r.MaxAttempts = 6
	}
	if r.BaseDelay <= 0 {
		r.BaseDelay = 100 * time.Millisecond
	}
	if r.ThrottleBaseDelay <= 0 {
		r.ThrottleBaseDelay = time.Second
	}
	if r.MaxBackoff <= 0 {
		r.MaxBackoff = 20 * time.Second
	}
	if r.RetryTokens == 0 {
		r.RetryTokens = retry.DefaultRetryRateTokens
	}
	bucket := ratelimit.NewTokenRateLimit(r.RetryTokens)
	return func() aws.Retryer {
		return retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = r.MaxAttempts
			so.MaxBackoff = r.MaxBackoff
			so.RateLimiter = bucket
			so.Backoff = jitterBackoff{base: r.BaseDelay, throttleBase: r.ThrottleBaseDelay, max: r.MaxBackoff}
		})
	}
}

// jitterBackoff is "full jitter" exponential backoff: a uniform wait in
// [0, min(max, base*2^attempt)), with a larger base after throttling.
type jitterBackoff struct {
	base, throttleBase, max time.Duration
}

var throttles = retry.IsErrorThrottles(retry.DefaultThrottles)

func (b jitterBackoff) BackoffDelay(attempt int, err error) (time.Duration, error) {
	base := b.base
	if throttles.IsErrorThrottle(err).Bool() {
		base = b.throttleBase
	}
	d := b.max
	if attempt < 30 {
		if e := base << attempt; e > 0 && e < d {
			d = e
		}
	}
	if d <= 0 {
		return 0, nil
	}
	return rand.N(d), nil
}

// parseTemplateID splits "lt-0abc:7" into the launch template id and version.
func parseTemplateID(id string) (ltID, version string, err error) {
	ltID, version, ok := strings.Cut(id, ":")
	if !ok || !strings.HasPrefix(ltID, "lt-") || version == "" {
		return "", "", rollout.Errorf(rollout.Invalid, "asg: template ID %q is not of the form lt-<id>:<version>", id)
	}
	return ltID, version, nil
}

func templateID(ltID, version string) string { return ltID + ":" + version }
