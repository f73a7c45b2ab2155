package asg_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	fake "github.com/noderoll/terraform-provider-noderoll/internal/fakecloud/aws"
	"github.com/noderoll/terraform-provider-noderoll/providers/asg"
	"github.com/noderoll/terraform-provider-noderoll/rollout"
)

// fastRetry keeps the SDK's retries in the tens of milliseconds.
var fastRetry = asg.RetryOptions{MaxAttempts: 12, BaseDelay: time.Millisecond, ThrottleBaseDelay: 5 * time.Millisecond, MaxBackoff: 25 * time.Millisecond}

type env struct {
	cloud  *fake.Cloud
	ec2    *ec2.Client // raw client, retries off: plays the user's Terraform
	asg    *autoscaling.Client
	baseID string
}

func staticCreds() aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")
}

// newEnv starts a fake with a base launch template, as aws_launch_template
// would have made it: ami-base on t3.micro.
func newEnv(t *testing.T, o fake.Options) *env {
	t.Helper()
	c := fake.New(o)
	t.Cleanup(c.Close)
	cfg := aws.Config{
		Region: "us-east-1", Credentials: staticCreds(), BaseEndpoint: aws.String(c.URL()),
		Retryer: func() aws.Retryer { return aws.NopRetryer{} },
	}
	e := &env{cloud: c, ec2: ec2.NewFromConfig(cfg), asg: autoscaling.NewFromConfig(cfg)}
	out, err := e.ec2.CreateLaunchTemplate(context.Background(), &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String("web-base"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String("ami-base"), InstanceType: ec2types.InstanceTypeT3Micro},
	})
	if err != nil {
		t.Fatalf("create base launch template: %v", err)
	}
	e.baseID = aws.ToString(out.LaunchTemplate.LaunchTemplateId)
	return e
}

func (e *env) options(pool string) asg.Options {
	return asg.Options{
		Region:           "us-east-1",
		Credentials:      staticCreds(),
		Endpoints:        asg.Endpoints{EC2: e.cloud.URL(), AutoScaling: e.cloud.URL(), SSM: e.cloud.URL()},
		PoolName:         pool,
		SubnetIDs:        []string{"subnet-a", "subnet-b"},
		LaunchTemplateID: e.baseID,
		Retry:            fastRetry,
	}
}

func (e *env) driver(t *testing.T, o asg.Options) *asg.Driver {
	t.Helper()
	d, err := asg.New(context.Background(), o)
	if err != nil {
		t.Fatalf("asg.New: %v", err)
	}
	return d
}

func spec(ami, typ string) rollout.Spec { return rollout.Spec{Image: ami, MachineType: typ} }

func prepare(t *testing.T, d *asg.Driver, s rollout.Spec) rollout.Template {
	t.Helper()
	tpl, err := d.PrepareTemplate(context.Background(), s)
	if err != nil {
		t.Fatalf("PrepareTemplate(%+v): %v", s, err)
	}
	return tpl
}

func describe(t *testing.T, d *asg.Driver) rollout.Pool {
	t.Helper()
	p, err := d.Describe(context.Background())
	if err != nil {
		t.Fatalf("Describe: %v", err)
	}
	return p
}

func ok(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// waitPool polls Describe until cond holds or 10s pass.
func waitPool(t *testing.T, d *asg.Driver, what string, cond func(rollout.Pool) bool) rollout.Pool {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		p, err := d.Describe(context.Background())
		if err == nil && cond(p) {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: last %+v, err %v", what, p, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func running(n int) func(rollout.Pool) bool {
	return func(p rollout.Pool) bool {
		if len(p.Nodes) != n {
			return false
		}
		for _, nd := range p.Nodes {
			if nd.State != rollout.NodeRunning || nd.Address == "" {
				return false
			}
		}
		return true
	}
}

func TestCreateDescribeResize(t *testing.T) {
	e := newEnv(t, fake.Options{})
	d := e.driver(t, e.options("web"))
	ctx := context.Background()
	if _, err := d.Describe(ctx); rollout.CodeOf(d, err) != rollout.NotFound {
		t.Fatalf("Describe before Create: %v, want not found", err)
	}
	tpl := prepare(t, d, spec("ami-1", "t3.small"))
	if tpl.ID != e.baseID+":2" || tpl.Image != "ami-1" || tpl.MachineType != "t3.small" {
		t.Fatalf("template = %+v, want %s:2 with ami-1 on t3.small", tpl, e.baseID)
	}
	ok(t, d.Create(ctx, tpl))
	ok(t, d.Create(ctx, tpl)) // a retried Create is fine
	g, _ := e.cloud.Group("noderoll-web")
	if g.Tags[asg.TagPool] != "web" || g.Tags[asg.TagManaged] != "true" || g.Desired != 0 || g.Min != 0 ||
		g.Max != asg.DefaultMaxSize || g.LaunchTemplateVersion != "2" || g.VPCZoneIdentifier != "subnet-a,subnet-b" {
		t.Fatalf("group = %+v", g)
	}
	other := prepare(t, d, spec("ami-2", "t3.small"))
	if err := d.Create(ctx, other); err == nil || !strings.Contains(err.Error(), "another template") {
		t.Fatalf("Create on a different template over an existing group: %v", err)
	}
	p := describe(t, d)
	if p.Name != "web" || p.Template != tpl || p.Size != 0 || len(p.Nodes) != 0 || p.Origin != "" {
		t.Fatalf("empty pool = %+v", p)
	}
	ok(t, d.Resize(ctx, 3))
	p = waitPool(t, d, "3 running nodes", running(3))
	zones := map[string]bool{}
	for _, n := range p.Nodes {
		if n.Template != tpl.ID || !strings.HasPrefix(n.Address, "127.88.") || n.CloudHealth != rollout.CloudHealthHealthy || n.CreatedAt.IsZero() {
			t.Fatalf("node %+v", n)
		}
		zones[n.Zone] = true
	}
	if len(zones) != 2 {
		t.Fatalf("nodes in zones %v, want both subnets' zones", zones)
	}
	ok(t, d.Resize(ctx, 1))
	waitPool(t, d, "1 node", running(1))
}

func TestPrepareTemplateIdempotent(t *testing.T) {
	e := newEnv(t, fake.Options{VersionPageSize: 1})
	d := e.driver(t, e.options("web"))
	ctx := context.Background()
	a := prepare(t, d, spec("ami-1", "t3.small"))
	again := prepare(t, d, spec("ami-1", "t3.small"))
	b := prepare(t, d, spec("ami-1", "m5.large"))
	inherit := prepare(t, d, spec("ami-1", ""))
	if a != again || a.ID == b.ID || b.ID == inherit.ID {
		t.Fatalf("templates a=%v again=%v b=%v inherit=%v: same spec must give the same version, others new ones", a, again, b, inherit)
	}
	// No machine type: the version keeps the base's t3.micro, and the
	// template reports the spec as given, so Describe matches the spec.
	if inherit.MachineType != "" || inherit.Image != "ami-1" {
		t.Fatalf("spec without machine type: %+v, want image ami-1 and machine type \"\"", inherit)
	}
	_, ver, _ := strings.Cut(inherit.ID, ":")
	vs, err := e.ec2.DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{LaunchTemplateId: aws.String(e.baseID), Versions: []string{ver}})
	ok(t, err)
	if data := vs.LaunchTemplateVersions[0].LaunchTemplateData; data.InstanceType != ec2types.InstanceTypeT3Micro || aws.ToString(data.ImageId) != "ami-1" {
		t.Fatalf("version %s data = %+v, want ami-1 on the base's t3.micro", ver, data)
	}
	observer := e.driver(t, e.options("web")) // no cache: reads the version back
	ok(t, observer.Create(ctx, inherit))
	if p := describe(t, observer); p.Template != inherit {
		t.Fatalf("Describe from a fresh driver reports %+v, want %+v", p.Template, inherit)
	}
	// A fresh driver (another process, after a crash) finds the same versions.
	fresh := e.driver(t, e.options("web"))
	if got := prepare(t, fresh, spec("ami-1", "t3.small")); got != a {
		t.Fatalf("fresh driver prepared %v, want %v", got, a)
	}
	// Another pool on the same base gets its own version.
	api := e.driver(t, e.options("api"))
	if got := prepare(t, api, spec("ami-1", "t3.small")); got.ID == a.ID {
		t.Fatalf("pool api reused pool web's version %s", got.ID)
	}
	if v := e.cloud.LaunchTemplateVersions(e.baseID); len(v) != 5 {
		t.Fatalf("versions = %v, want base + 4 made by noderoll", v)
	}
	// A new default version of the base (the user changed aws_launch_template)
	// gives a new noderoll version for the same spec.
	_, err = e.ec2.CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{
		LaunchTemplateId: aws.String(e.baseID), SourceVersion: aws.String("1"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{InstanceType: ec2types.InstanceTypeT3Medium},
	})
	ok(t, err)
	_, err = e.ec2.ModifyLaunchTemplate(ctx, &ec2.ModifyLaunchTemplateInput{LaunchTemplateId: aws.String(e.baseID), DefaultVersion: aws.String("6")})
	ok(t, err)
	after := prepare(t, d, spec("ami-1", "t3.small"))
	if after.ID == a.ID || after.MachineType != "t3.small" || after.Image != "ami-1" {
		t.Fatalf("after the base's default changed, PrepareTemplate gave %+v (before: %+v), want a new version", after, a)
	}
	if _, err := d.PrepareTemplate(ctx, spec("ubuntu-22.04", "")); rollout.CodeOf(d, err) != rollout.Invalid {
		t.Fatalf("PrepareTemplate(non-AMI) = %v, want invalid", err)
	}
}

func TestUseTemplateRecordsOriginAndSuspendsAZRebalance(t *testing.T) {
	e := newEnv(t, fake.Options{})
	d := e.driver(t, e.options("web"))
	ctx := context.Background()
	a := prepare(t, d, spec("ami-1", "t3.small"))
	b := prepare(t, d, spec("ami-2", "t3.small"))
	ok(t, d.Create(ctx, a))
	ok(t, d.UseTemplate(ctx, b, a.ID))
	g, _ := e.cloud.Group("noderoll-web")
	if g.LaunchTemplateVersion != "3" || g.Tags[asg.TagOrigin] != a.ID || fmt.Sprint(g.SuspendedProcesses) != "[AZRebalance]" {
		t.Fatalf("during rollout: group %+v", g)
	}
	p := describe(t, d)
	if p.Template != b || p.Origin != a.ID {
		t.Fatalf("Describe during rollout: template %v origin %q", p.Template, p.Origin)
	}
	ok(t, d.UseTemplate(ctx, b, "")) // the rollout finished
	g, _ = e.cloud.Group("noderoll-web")
	if _, has := g.Tags[asg.TagOrigin]; has || len(g.SuspendedProcesses) != 0 {
		t.Fatalf("after rollout: group %+v, want no origin tag and no suspended process", g)
	}
	if p := describe(t, d); p.Origin != "" {
		t.Fatalf("Origin after clearing = %q", p.Origin)
	}
}

func TestResizeRaisesAndRestoresBounds(t *testing.T) {
	e := newEnv(t, fake.Options{})
	o := e.options("web")
	o.MinSize, o.MaxSize = 1, 2
	d := e.driver(t, o)
	ctx := context.Background()
	tpl := prepare(t, d, spec("ami-1", "t3.small"))
	ok(t, d.Create(ctx, tpl))
	g, _ := e.cloud.Group("noderoll-web")
	if g.Min != 0 || g.Desired != 0 || g.Max != 2 || g.Tags[asg.TagMinSize] != "1" {
		t.Fatalf("created group %+v, want empty with min 0 and the user's min 1 remembered", g)
	}
	ok(t, d.Resize(ctx, 2))
	g, _ = e.cloud.Group("noderoll-web")
	if g.Min != 1 || g.Desired != 2 || g.Tags[asg.TagMinSize] != "" {
		t.Fatalf("after Resize(2): %+v, want the user's min 1 applied", g)
	}
	ok(t, d.Resize(ctx, 3)) // surge above the user's max
	g, _ = e.cloud.Group("noderoll-web")
	if g.Max != 3 || g.Desired != 3 || g.Tags[asg.TagMaxSize] != "2" {
		t.Fatalf("after Resize(3): %+v", g)
	}
	ok(t, d.Resize(ctx, 2))
	g, _ = e.cloud.Group("noderoll-web")
	if g.Max != 2 || g.Desired != 2 || g.Tags[asg.TagMaxSize] != "" {
		t.Fatalf("after Resize(2): %+v, want max restored to 2 and the tag gone", g)
	}
	ok(t, d.Resize(ctx, 0)) // empty the pool below the user's min
	g, _ = e.cloud.Group("noderoll-web")
	if g.Min != 0 || g.Desired != 0 || g.Tags[asg.TagMinSize] != "1" {
		t.Fatalf("after Resize(0): %+v", g)
	}
	ok(t, d.Resize(ctx, 1))
	g, _ = e.cloud.Group("noderoll-web")
	if g.Min != 1 || g.Desired != 1 || g.Tags[asg.TagMinSize] != "" {
		t.Fatalf("after Resize(1): %+v, want min restored", g)
	}
}

func TestRemoveNodesExactly(t *testing.T) {
	e := newEnv(t, fake.Options{})
	o := e.options("web")
	o.MinSize = 3
	d := e.driver(t, o)
	ctx := context.Background()
	tpl := prepare(t, d, spec("ami-1", "t3.small"))
	ok(t, d.Create(ctx, tpl))
	ok(t, d.Resize(ctx, 3))
	p := waitPool(t, d, "3 nodes", running(3))
	victim, protected := p.Nodes[0].ID, p.Nodes[2].ID
	_, err := e.asg.SetInstanceProtection(ctx, &autoscaling.SetInstanceProtectionInput{
		AutoScalingGroupName: aws.String("noderoll-web"), InstanceIds: []string{protected}, ProtectedFromScaleIn: aws.Bool(true),
	})
	ok(t, err)
	p = describe(t, d)
	for _, n := range p.Nodes {
		if n.ID == protected && !strings.Contains(n.Detail, "scale-in protected") {
			t.Fatalf("protected node detail %q", n.Detail)
		}
	}
	// Below MinSize, protected, and one id that never existed.
	ok(t, d.RemoveNodes(ctx, []string{victim, protected, "i-0000000000000dead"}))
	ok(t, d.RemoveNodes(ctx, []string{victim, protected})) // retried: no double decrement
	g, _ := e.cloud.Group("noderoll-web")
	if g.Desired != 1 || g.Min != 1 || g.Tags[asg.TagMinSize] != "3" {
		t.Fatalf("after removing 2 of 3: %+v, want desired 1, min lowered to 1 and remembered", g)
	}
	keep := p.Nodes[1].ID
	p = waitPool(t, d, "only the kept node", func(p rollout.Pool) bool { return len(p.Nodes) == 1 && p.Nodes[0].ID == keep })
	for _, in := range e.cloud.Instances() {
		if (in.ID == victim || in.ID == protected) && in.State != "terminated" {
			t.Fatalf("instance %s is %s, want terminated", in.ID, in.State)
		}
	}
}

func TestDescribeCallCounts(t *testing.T) {
	e := newEnv(t, fake.Options{})
	d := e.driver(t, e.options("web"))
	ctx := context.Background()
	tpl := prepare(t, d, spec("ami-1", "t3.small"))
	ok(t, d.Create(ctx, tpl))
	ok(t, d.Resize(ctx, 5))
	waitPool(t, d, "5 nodes", running(5))
	e.cloud.ResetCalls()
	for range 3 {
		describe(t, d)
	}
	calls := e.cloud.Calls()
	if calls["DescribeAutoScalingGroups"] != 3 || calls["DescribeInstances"] != 3 || len(calls) != 2 {
		t.Fatalf("3 Describes of 5 nodes made %v, want exactly 3 DescribeAutoScalingGroups and 3 DescribeInstances", calls)
	}
}

func TestThrottlingStorm(t *testing.T) {
	// Every API gets a 2-token bucket refilled at 40 per second: far below
	// what the test asks, so most first attempts are refused.
	b := fake.Bucket{Size: 2, RefillPerSecond: 40}
	e := newEnv(t, fake.Options{Throttle: &fake.Limits{EC2Describe: b, EC2Mutate: b, ASGDescribe: b, ASGMutate: b, SSM: b}})
	o := e.options("web")
	// Enough attempts and backoff for 8 callers to share 40 calls a second.
	o.Retry = asg.RetryOptions{MaxAttempts: 20, BaseDelay: time.Millisecond, ThrottleBaseDelay: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}
	d := e.driver(t, o)
	ctx := context.Background()
	tpl := prepare(t, d, spec("ami-1", "t3.small"))
	ok(t, d.Create(ctx, tpl))
	ok(t, d.Resize(ctx, 4))
	// Eight concurrent observers, as many pools' engines in one account.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for range 3 {
				if _, err := d.Describe(ctx); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Describe under throttling: %v", err)
	}
	p := waitPool(t, d, "4 running nodes", running(4))
	two := prepare(t, d, spec("ami-2", "t3.small"))
	ok(t, d.UseTemplate(ctx, two, tpl.ID))
	ok(t, d.RemoveNodes(ctx, []string{p.Nodes[0].ID, p.Nodes[1].ID}))
	th := e.cloud.Throttled()
	if th["DescribeAutoScalingGroups"] < 10 {
		t.Fatalf("the fake throttled %v: the storm did not happen", th)
	}
	t.Logf("throttled responses: %v", th)
}

func TestThrottlingClassifiedWhenRetriesRunOut(t *testing.T) {
	e := newEnv(t, fake.Options{Throttle: &fake.Limits{ASGDescribe: fake.Bucket{Size: 1, RefillPerSecond: 0.01}}})
	o := e.options("web")
	o.Retry.MaxAttempts = 2
	d := e.driver(t, o)
	ctx := context.Background()
	d.Describe(ctx) // takes the only token
	_, err := d.Describe(ctx)
	if c := rollout.CodeOf(d, err); c != rollout.Throttled {
		t.Fatalf("Describe with an empty bucket: %v classified %s, want throttled", err, c)
	}
}

func TestEventualConsistency(t *testing.T) {
	e := newEnv(t, fake.Options{ConsistencyDelay: 800 * time.Millisecond, BootDelay: 5 * time.Millisecond})
	d := e.driver(t, e.options("web"))
	ctx := context.Background()
	tpl := prepare(t, d, spec("ami-1", "t3.small"))
	ok(t, d.Create(ctx, tpl))
	ok(t, d.Resize(ctx, 2))
	p := waitPool(t, d, "2 nodes in the group", func(p rollout.Pool) bool { return len(p.Nodes) == 2 })
	for _, n := range p.Nodes {
		if n.State != rollout.NodeProvisioning || n.Address != "" || !strings.Contains(n.Detail, "not yet visible") {
			t.Fatalf("fresh node %+v, want provisioning with no address, explained", n)
		}
	}
	// The raw API fails for the same ids: that is what the driver avoids.
	_, err := e.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{p.Nodes[0].ID}})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidInstanceID.NotFound" {
		t.Fatalf("raw DescribeInstances(fresh id) = %v, want InvalidInstanceID.NotFound", err)
	}
	waitPool(t, d, "nodes visible and running", running(2))
}

func TestServerFaultsAreRetried(t *testing.T) {
	e := newEnv(t, fake.Options{})
	d := e.driver(t, e.options("web"))
	ctx := context.Background()
	tpl := prepare(t, d, spec("ami-1", "t3.small"))
	ok(t, d.Create(ctx, tpl))
	ok(t, d.Resize(ctx, 1))
	waitPool(t, d, "1 node", running(1))
	e.cloud.FailNext("DescribeAutoScalingGroups", 2, "ServiceUnavailable")
	e.cloud.FailNext("DescribeInstances", 2, "InternalError")
	e.cloud.FailNext("SetDesiredCapacity", 1, "InternalError")
	if p, err := d.Describe(ctx); err != nil || len(p.Nodes) != 1 {
		t.Fatalf("Describe through 5xx faults: %+v, %v", p, err)
	}
	ok(t, d.Resize(ctx, 2))
	// More faults than attempts: the error surfaces, classified Unavailable.
	e.cloud.FailNext("DescribeAutoScalingGroups", fastRetry.MaxAttempts, "ServiceUnavailable")
	_, err := d.Describe(ctx)
	if c := rollout.CodeOf(d, err); c != rollout.Unavailable {
		t.Fatalf("Describe after %d faults: %v classified %s, want unavailable", fastRetry.MaxAttempts, err, c)
	}
}

func TestPagination(t *testing.T) {
	e := newEnv(t, fake.Options{InstancePageSize: 5, ASGPageSize: 1, VersionPageSize: 2})
	d := e.driver(t, e.options("web"))
	ctx := context.Background()
	tpl := prepare(t, d, spec("ami-1", "t3.small"))
	ok(t, d.Create(ctx, tpl))
	ok(t, d.Resize(ctx, 12))
	waitPool(t, d, "12 running nodes", running(12))
	e.cloud.ResetCalls()
	p := describe(t, d)
	addrs := map[string]bool{}
	for _, n := range p.Nodes {
		addrs[n.Address] = true
	}
	if len(addrs) != 12 {
		t.Fatalf("%d distinct addresses for 12 nodes", len(addrs))
	}
	if c := e.cloud.Calls(); c["DescribeInstances"] != 3 || c["DescribeAutoScalingGroups"] != 1 {
		t.Fatalf("calls %v, want 3 pages of DescribeInstances (5 per page) and 1 DescribeAutoScalingGroups", c)
	}
}

func TestDeleteRemovesOnlyWhatNoderollMade(t *testing.T) {
	e := newEnv(t, fake.Options{})
	ctx := context.Background()
	// The user's own version 2 of the base template.
	_, err := e.ec2.CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{
		LaunchTemplateId: aws.String(e.baseID), SourceVersion: aws.String("1"), VersionDescription: aws.String("user's"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String("ami-1")},
	})
	ok(t, err)
	d := e.driver(t, e.options("web"))
	api := e.driver(t, e.options("api"))
	a := prepare(t, d, spec("ami-1", "t3.small")) // 3
	prepare(t, d, spec("ami-2", "t3.small"))      // 4
	prepare(t, api, spec("ami-1", "t3.small"))    // 5
	ok(t, d.Create(ctx, a))
	ok(t, d.Resize(ctx, 2))
	waitPool(t, d, "2 nodes", running(2))
	ok(t, d.Delete(ctx))
	ok(t, d.Delete(ctx)) // again, while the group is still being deleted
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := d.Describe(ctx)
		if rollout.CodeOf(d, err) == rollout.NotFound {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("group still there after Delete: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	ok(t, d.Delete(ctx)) // and after it is gone
	// Left: the base's default version 1, the user's 2, pool api's 5.
	if v := e.cloud.LaunchTemplateVersions(e.baseID); fmt.Sprint(v) != "[1 2 5]" {
		t.Fatalf("versions after Delete = %v, want [1 2 5]", v)
	}
	for _, in := range e.cloud.Instances() {
		if in.State != "terminated" {
			t.Fatalf("instance %s is %s after Delete", in.ID, in.State)
		}
	}
}

func TestDescribeOddStates(t *testing.T) {
	e := newEnv(t, fake.Options{ImageBehaviour: map[string]fake.Behaviour{"ami-crash": fake.BehaviourCrash}})
	d := e.driver(t, e.options("web"))
	ctx := context.Background()
	good := prepare(t, d, spec("ami-1", "t3.small"))
	ok(t, d.Create(ctx, good))
	ok(t, d.Resize(ctx, 2))
	p := waitPool(t, d, "2 running nodes", running(2))
	ok(t, e.cloud.SetStandby(p.Nodes[0].ID, true))
	p = describe(t, d)
	if n := p.Nodes[0]; n.State != rollout.NodeRunning || !strings.Contains(n.Detail, "Standby") {
		t.Fatalf("standby node %+v, want running with a Standby detail", n)
	}
	ok(t, e.cloud.SetStandby(p.Nodes[0].ID, false))

	crash := prepare(t, d, spec("ami-crash", "t3.small"))
	ok(t, d.UseTemplate(ctx, crash, good.ID))
	ok(t, d.Resize(ctx, 3))
	waitPool(t, d, "the crashed node reported unhealthy by Auto Scaling", func(p rollout.Pool) bool {
		for _, n := range p.Nodes {
			if n.Template == crash.ID && n.State == rollout.NodeRunning && n.CloudHealth == rollout.CloudHealthUnhealthy {
				return true
			}
		}
		return false
	})
	// The version the group points at is deleted behind noderoll's back:
	// Describe still reports the group, with the template's ID.
	other := e.driver(t, e.options("web"))
	_, err := e.ec2.DeleteLaunchTemplateVersions(ctx, &ec2.DeleteLaunchTemplateVersionsInput{LaunchTemplateId: aws.String(e.baseID), Versions: []string{"3"}})
	ok(t, err)
	if p := describe(t, other); p.Template.ID != crash.ID || p.Template.Image != "" {
		t.Fatalf("template of a group on a deleted version = %+v, want ID %s and unknown contents", p.Template, crash.ID)
	}
}

// TestTemplateDrift: a pool on a version made from the base's default
// reports no drift; a new default version of the base (the user changed
// aws_launch_template) is reported with both version numbers, creating
// nothing; a spec change alone is not drift; a missing group is NotFound.
func TestTemplateDrift(t *testing.T) {
	e := newEnv(t, fake.Options{})
	d := e.driver(t, e.options("web"))
	ctx := context.Background()
	s := spec("ami-1", "t3.small")
	tpl := prepare(t, d, s)
	ok(t, d.Create(ctx, tpl))

	observer := e.driver(t, e.options("web")) // another process: nothing cached
	if why, err := observer.TemplateDrift(ctx, s); err != nil || why != "" {
		t.Fatalf("TemplateDrift on the current base = %q, %v; want no drift", why, err)
	}
	describe(t, observer)
	e.cloud.ResetCalls()
	if why, err := observer.TemplateDrift(ctx, s); err != nil || why != "" {
		t.Fatalf("TemplateDrift after Describe = %q, %v; want no drift", why, err)
	}
	if calls := e.cloud.Calls(); calls["DescribeAutoScalingGroups"] != 1 || calls["DescribeLaunchTemplates"] != 1 || len(calls) != 2 {
		t.Fatalf("TemplateDrift after Describe made %v, want one DescribeAutoScalingGroups and one DescribeLaunchTemplates", calls)
	}

	// The user's Terraform makes version 3 of the base and the default.
	_, err := e.ec2.CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{
		LaunchTemplateId: aws.String(e.baseID), SourceVersion: aws.String("1"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{InstanceType: ec2types.InstanceTypeT3Medium},
	})
	ok(t, err)
	_, err = e.ec2.ModifyLaunchTemplate(ctx, &ec2.ModifyLaunchTemplateInput{LaunchTemplateId: aws.String(e.baseID), DefaultVersion: aws.String("3")})
	ok(t, err)
	versions := e.cloud.LaunchTemplateVersions(e.baseID)
	e.cloud.ResetCalls()
	why, err := observer.TemplateDrift(ctx, s)
	ok(t, err)
	want := fmt.Sprintf("base launch template %s changed: its default version is now 3, and the pool's template %s was made from version 1", e.baseID, tpl.ID)
	if why != want {
		t.Fatalf("TemplateDrift after a new default = %q, want %q", why, want)
	}
	calls := e.cloud.Calls()
	if calls["DescribeAutoScalingGroups"] != 1 || calls["DescribeLaunchTemplates"] != 1 || len(calls) != 2 {
		t.Fatalf("TemplateDrift made %v, want one DescribeAutoScalingGroups and one DescribeLaunchTemplates", calls)
	}
	if got := e.cloud.LaunchTemplateVersions(e.baseID); fmt.Sprint(got) != fmt.Sprint(versions) {
		t.Fatalf("TemplateDrift changed the versions from %v to %v: it must create nothing", versions, got)
	}
	// A different spec makes a new version anyway; that is not drift.
	if why, err := observer.TemplateDrift(ctx, spec("ami-2", "t3.small")); err != nil || why != "" {
		t.Fatalf("TemplateDrift for another spec = %q, %v; want \"\"", why, err)
	}
	// What TemplateDrift predicted is what PrepareTemplate does; on the new
	// version there is no drift.
	next := prepare(t, d, s)
	if next.ID == tpl.ID {
		t.Fatalf("PrepareTemplate after the new default reused %s", tpl.ID)
	}
	ok(t, d.UseTemplate(ctx, next, ""))
	if why, err := observer.TemplateDrift(ctx, s); err != nil || why != "" {
		t.Fatalf("TemplateDrift on a version of the new default = %q, %v; want no drift", why, err)
	}

	// A group on a version noderoll did not make (an imported group, say):
	// the next apply replaces every node, so that is drift too.
	foreign := e.driver(t, e.options("web"))
	ok(t, foreign.UseTemplate(ctx, rollout.Template{ID: e.baseID + ":3"}, ""))
	why, err = observer.TemplateDrift(ctx, s)
	ok(t, err)
	if !strings.Contains(why, "which noderoll did not make for pool web") {
		t.Fatalf("TemplateDrift on a foreign version = %q, want it to say noderoll did not make it", why)
	}

	missing := e.driver(t, e.options("gone"))
	if _, err := missing.TemplateDrift(ctx, s); rollout.CodeOf(missing, err) != rollout.NotFound {
		t.Fatalf("TemplateDrift of a missing group = %v, want a NotFound error", err)
	}
}
