package asg_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/aws/smithy-go"

	fake "github.com/noderoll/terraform-provider-noderoll/internal/fakecloud/aws"
	"github.com/noderoll/terraform-provider-noderoll/providers/asg"
	"github.com/noderoll/terraform-provider-noderoll/rollout"
)

func TestErrorCode(t *testing.T) {
	e := newEnv(t, fake.Options{})
	d := e.driver(t, e.options("web"))
	api := func(code, msg string) error {
		return fmt.Errorf("asg: doing something: %w", &smithy.GenericAPIError{Code: code, Message: msg})
	}
	cases := []struct {
		err  error
		want rollout.ErrorCode
	}{
		{api("InvalidInstanceID.NotFound", "The instance ID 'i-1' does not exist"), rollout.NotFound},
		{api("InvalidLaunchTemplateId.NotFound", ""), rollout.NotFound},
		{api("InvalidLaunchTemplateName.NotFoundException", ""), rollout.NotFound},
		{api("InvalidLaunchTemplateId.VersionNotFound", ""), rollout.NotFound},
		{api("ValidationError", "Instance Id not found - No managed instance found for instance ID: i-1"), rollout.NotFound},
		{api("ValidationError", "AutoScalingGroup name not found - null"), rollout.NotFound},
		{api("ParameterNotFound", ""), rollout.NotFound},
		{api("RequestLimitExceeded", "Request limit exceeded."), rollout.Throttled},
		{api("Throttling", "Rate exceeded"), rollout.Throttled},
		{api("ThrottlingException", ""), rollout.Throttled},
		{api("LimitExceeded", "max groups"), rollout.Quota},
		{api("InstanceLimitExceeded", ""), rollout.Quota},
		{api("VcpuLimitExceeded", ""), rollout.Quota},
		{api("ScalingActivityInProgress", ""), rollout.Conflict},
		{api("ResourceInUse", ""), rollout.Conflict},
		{api("IncorrectInstanceState", ""), rollout.Conflict},
		{api("ValidationError", "New SetDesiredCapacity value 5 is above max value 4"), rollout.Invalid},
		{api("InvalidParameterValue", ""), rollout.Invalid},
		{api("InvalidParameterCombination", ""), rollout.Invalid},
		{api("InvalidAMIID.Malformed", ""), rollout.Invalid},
		{api("InternalError", ""), rollout.Unavailable},
		{api("ServiceUnavailable", ""), rollout.Unavailable},
		{&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, rollout.Unavailable},
		{rollout.Errorf(rollout.Quota, "already classified"), rollout.Quota},
		{errors.New("plain"), rollout.Unknown},
		{api("SomethingNew", ""), rollout.Unknown},
		{nil, rollout.Unknown},
	}
	for _, c := range cases {
		if got := d.ErrorCode(c.err); got != c.want {
			t.Errorf("ErrorCode(%v) = %s, want %s", c.err, got, c.want)
		}
	}
}

// The same classes come back from real calls through the SDK.
func TestErrorCodeFromTheWire(t *testing.T) {
	e := newEnv(t, fake.Options{})
	ctx := context.Background()
	o := e.options("web")
	o.Retry.MaxAttempts = 1
	d := e.driver(t, o)
	if _, err := d.Describe(ctx); d.ErrorCode(err) != rollout.NotFound {
		t.Errorf("Describe of a missing group: %v -> %s", err, d.ErrorCode(err))
	}
	if err := d.Resize(ctx, 1); d.ErrorCode(err) != rollout.NotFound {
		t.Errorf("Resize of a missing group: %v -> %s", err, d.ErrorCode(err))
	}
	o.LaunchTemplateID = "lt-0000000000missing"
	gone := e.driver(t, o)
	if _, err := gone.PrepareTemplate(ctx, spec("ami-1", "")); gone.ErrorCode(err) != rollout.NotFound {
		t.Errorf("PrepareTemplate on a missing base: %v -> %s", err, gone.ErrorCode(err))
	}
	tpl := prepare(t, d, spec("ami-1", "t3.small"))
	ok(t, d.Create(ctx, tpl))
	e.cloud.FailNext("UpdateAutoScalingGroup", 1, "ScalingActivityInProgress")
	if err := d.UseTemplate(ctx, tpl, ""); d.ErrorCode(err) != rollout.Conflict {
		t.Errorf("UseTemplate during a scaling activity: %v -> %s", err, d.ErrorCode(err))
	}
	e.cloud.FailNext("SetDesiredCapacity", 1, "ServiceUnavailable")
	if err := d.Resize(ctx, 1); d.ErrorCode(err) != rollout.Unavailable {
		t.Errorf("Resize on a 503: %v -> %s", err, d.ErrorCode(err))
	}
	if err := d.UseTemplate(ctx, rollout.Template{ID: "$Latest"}, ""); d.ErrorCode(err) != rollout.Invalid {
		t.Errorf("UseTemplate($Latest): %v -> %s", err, d.ErrorCode(err))
	}
}

func TestNewValidates(t *testing.T) {
	_, err := asg.New(context.Background(), asg.Options{Region: "us-east-1", Credentials: staticCreds()})
	if rollout.CodeOf(nil, err) != rollout.Invalid {
		t.Fatalf("New without group or template: %v, want invalid", err)
	}
}

func TestResolveImage(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2026, 3, d, 12, 0, 0, 0, time.UTC) }
	e := newEnv(t, fake.Options{
		ImagePageSize: 2,
		Images: []fake.Image{
			{ID: "ami-0old", Name: "al2023-ami-2023.1-kernel-6.1-x86_64", OwnerID: "137112412989", OwnerAlias: "amazon", CreationDate: day(1)},
			{ID: "ami-0new", Name: "al2023-ami-2023.3-kernel-6.1-x86_64", OwnerID: "137112412989", OwnerAlias: "amazon", CreationDate: day(20)},
			{ID: "ami-0mid", Name: "al2023-ami-2023.2-kernel-6.1-x86_64", OwnerID: "137112412989", OwnerAlias: "amazon", CreationDate: day(10)},
			{ID: "ami-0arm", Name: "al2023-ami-2023.4-kernel-6.1-arm64", OwnerID: "137112412989", OwnerAlias: "amazon", CreationDate: day(25)},
			{ID: "ami-0evil", Name: "al2023-ami-2023.9-kernel-6.1-x86_64", OwnerID: "999999999999", CreationDate: day(28)},
			{ID: "ami-0web1", Name: "web-1", Tags: map[string]string{"role": "web", "stage": "prod"}, CreationDate: day(2)},
			{ID: "ami-0web2", Name: "web-2", Tags: map[string]string{"role": "web", "stage": "dev"}, CreationDate: day(3)},
		},
		Parameters: map[string]string{"/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64": "ami-0mid"},
	})
	o := e.options("")
	r, err := asg.NewImageResolver(context.Background(), o)
	ok(t, err)
	ctx := context.Background()
	cases := []struct {
		q    asg.ImageQuery
		want string
	}{
		{asg.ImageQuery{Owners: []string{"amazon"}, NameFilter: "al2023-ami-2023.*-kernel-6.1-x86_64"}, "ami-0new"},
		{asg.ImageQuery{Owners: []string{"137112412989"}, NameFilter: "al2023-ami-*"}, "ami-0arm"},
		{asg.ImageQuery{Owners: []string{"self"}, Tags: map[string]string{"role": "web", "stage": "prod"}}, "ami-0web1"},
		{asg.ImageQuery{Owners: []string{"self"}, NameFilter: "web-?"}, "ami-0web2"},
		{asg.ImageQuery{SSMParameter: "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"}, "ami-0mid"},
	}
	for _, c := range cases {
		im, err := r.ResolveImage(ctx, c.q)
		if err != nil || im.ID != c.want {
			t.Errorf("ResolveImage(%+v) = %+v, %v; want %s", c.q, im, err, c.want)
		}
	}
	im, _ := r.ResolveImage(ctx, cases[0].q)
	if im.Name != "al2023-ami-2023.3-kernel-6.1-x86_64" || !im.CreationDate.Equal(day(20)) {
		t.Errorf("image = %+v, want its name and creation date", im)
	}
	for _, q := range []asg.ImageQuery{
		{Owners: []string{"amazon"}, NameFilter: "windows-*"},
		{SSMParameter: "/aws/service/missing"},
	} {
		if _, err := r.ResolveImage(ctx, q); r.ErrorCode(err) != rollout.NotFound {
			t.Errorf("ResolveImage(%+v) = %v, want not found", q, err)
		}
	}
	for _, q := range []asg.ImageQuery{
		{NameFilter: "al2023-*"}, // no owners: anyone's image could match
		{SSMParameter: "/x", Owners: []string{"amazon"}},
	} {
		if _, err := r.ResolveImage(ctx, q); r.ErrorCode(err) != rollout.Invalid {
			t.Errorf("ResolveImage(%+v) = %v, want invalid", q, err)
		}
	}
	// Through a Driver too.
	d := e.driver(t, e.options("web"))
	if im, err := d.ResolveImage(ctx, cases[4].q); err != nil || im.ID != "ami-0mid" {
		t.Errorf("Driver.ResolveImage = %+v, %v", im, err)
	}
}
