package provider

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/schema/validator"

	"github.com/noderoll/terraform-provider-noderoll/rollout"
)

// The validators here check one value in isolation at `terraform validate`.
// Rules that relate fields (max_surge with max_unavailable, node_deadline
// with min_ready) come from rollout.Strategy.Validate in ValidateConfig, so
// they are written once, in the engine.

// stringCheck adapts a function that explains what is wrong with a value
// ("" when nothing is) to a validator.String. Unknown and null values pass:
// they are checked again when known.
type stringCheck struct {
	desc  string
	check func(string) string
}

func (c stringCheck) Description(context.Context) string         { return c.desc }
func (c stringCheck) MarkdownDescription(context.Context) string { return c.desc }

func (c stringCheck) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	v := req.ConfigValue.ValueString()
	if msg := c.check(v); msg != "" {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid Attribute Value",
			fmt.Sprintf("%s = %q is invalid: %s.", req.Path, v, msg))
	}
}

// duration accepts Go durations ("300ms", "30s", "10m", "1h30m"); positive
// requires more than zero, otherwise zero is allowed.
func duration(positive bool) validator.String {
	want := "want 0 or a duration such as \"30s\", \"5m\" or \"1h\""
	if positive {
		want = "want a positive duration such as \"30s\", \"5m\" or \"1h\""
	}
	return stringCheck{desc: want, check: func(s string) string {
		d, err := time.ParseDuration(s)
		switch {
		case err != nil:
			return "not a duration: " + want
		case d < 0:
			return "negative: " + want
		case positive && d == 0:
			return "zero: " + want
		}
		return ""
	}}
}

// intOrPercent accepts a node count or a percentage, with the engine's parser.
func intOrPercent() validator.String {
	return stringCheck{desc: `a node count such as "1" or a percentage such as "25%"`, check: func(s string) string {
		if _, err := rollout.ParseIntOrPercent(s); err != nil {
			return trimQuoted(err.Error(), s)
		}
		return ""
	}}
}

// trimQuoted drops a leading `"value" ` from an engine message, because the
// diagnostic already names the value.
func trimQuoted(msg, v string) string {
	return strings.TrimPrefix(msg, fmt.Sprintf("%q ", v))
}

func nonBlank() validator.String {
	return stringCheck{desc: "a non-blank string", check: func(s string) string {
		if strings.TrimSpace(s) == "" {
			return "want a non-blank value"
		}
		return ""
	}}
}

func httpURL() validator.String {
	return stringCheck{desc: "an absolute http or https URL", check: func(s string) string {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return `want an absolute http:// or https:// URL such as "https://hooks.example.com/drain"`
		}
		return ""
	}}
}

func urlPath() validator.String {
	return stringCheck{desc: "an absolute URL path", check: func(s string) string {
		if !strings.HasPrefix(s, "/") || strings.ContainsAny(s, " \t\r\n#") {
			return `want an absolute URL path without spaces or fragment, such as "/healthz"`
		}
		return ""
	}}
}

func pemCertificates() validator.String {
	return stringCheck{desc: "one or more PEM-encoded X.509 certificates", check: func(s string) string {
		rest := []byte(s)
		n := 0
		for {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil {
				break
			}
			if b.Type != "CERTIFICATE" {
				return fmt.Sprintf("contains a PEM block of type %q: want only CERTIFICATE blocks", b.Type)
			}
			if _, err := x509.ParseCertificate(b.Bytes); err != nil {
				return "contains a certificate that does not parse (" + err.Error() + "): want PEM-encoded X.509 certificates"
			}
			n++
		}
		if n == 0 || strings.TrimSpace(string(rest)) != "" {
			return "want one or more PEM-encoded certificates (-----BEGIN CERTIFICATE----- ...)"
		}
		return ""
	}}
}

// regexCheck accepts values matching re; want says what is valid.
func regexCheck(re *regexp.Regexp, want string) validator.String {
	return stringCheck{desc: want, check: func(s string) string {
		if !re.MatchString(s) {
			return "want " + want
		}
		return ""
	}}
}

// AWS identifier formats, checked at plan time so a typo fails before any
// API call. They follow the formats AWS documents for each resource.
var (
	awsRegionRE      = regexp.MustCompile(`^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]{1,2}$`)
	subnetIDRE       = regexp.MustCompile(`^subnet-([0-9a-f]{8}|[0-9a-f]{17})$`)
	launchTemplateRE = regexp.MustCompile(`^lt-([0-9a-f]{8}|[0-9a-f]{17})$`)
	ltNameRE         = regexp.MustCompile(`^[a-zA-Z0-9().\-/_]{3,128}$`)
	targetGroupARNRE = regexp.MustCompile(`^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:[0-9]{12}:targetgroup/[A-Za-z0-9-]{1,32}/[0-9a-f]{16}$`)
	roleARNRE        = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]+$`)
	asgNameRE        = regexp.MustCompile(`^[^:\s][^:]{0,254}$`)
	amiIDRE          = regexp.MustCompile(`^ami-([0-9a-f]{8}|[0-9a-f]{17})$`)
	instanceTypeRE   = regexp.MustCompile(`^[a-z][a-z0-9-]*\.[a-z0-9-]+$`)
	imageOwnerRE     = regexp.MustCompile(`^([0-9]{12}|self|amazon|aws-marketplace|aws-backup-vault)$`)
	ssmParameterRE   = regexp.MustCompile(`^[a-zA-Z0-9_.\-/]+$`)
)

const (
	awsRegionWant      = `an AWS Region code such as "eu-west-1" or "us-gov-west-1"`
	subnetIDWant       = `a subnet ID such as "subnet-0123456789abcdef0"`
	launchTemplateWant = `a launch template ID such as "lt-0123456789abcdef0" (aws_launch_template.<name>.id)`
	ltNameWant         = "a launch template name: 3 to 128 letters, digits and ( ) . - / _"
	targetGroupARNWant = `a target group ARN such as "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web/0123456789abcdef"`
	roleARNWant        = `an IAM role ARN such as "arn:aws:iam::123456789012:role/noderoll"`
	asgNameWant        = "an Auto Scaling group name: 1 to 255 characters, without colons, not starting with a space"
	amiIDWant          = `an AMI ID such as "ami-0123456789abcdef0" (data.noderoll_image.<name>.id)`
	instanceTypeWant   = `an EC2 instance type such as "t3.small"`
	imageOwnerWant     = `an AWS account ID (12 digits) or "self", "amazon", "aws-marketplace" or "aws-backup-vault"`
	ssmParameterWant   = `an SSM parameter name such as "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"`
)
