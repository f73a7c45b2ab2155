package aws_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go"

	fake "github.com/noderoll/terraform-provider-noderoll/internal/fakecloud/aws"
)

type clients struct {
	ec2 *ec2.Client
	asg *autoscaling.Client
	ssm *ssm.Client
}

// newClients returns SDK clients pointed at the fake with retries off, so
// every fault reaches the test.
func newClients(t *testing.T, c *fake.Cloud) clients {
	t.Helper()
	cfg := aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		BaseEndpoint: aws.String(c.URL()),
		Retryer:      func() aws.Retryer { return aws.NopRetryer{} },
	}
	return clients{ec2: ec2.NewFromConfig(cfg), asg: autoscaling.NewFromConfig(cfg), ssm: ssm.NewFromConfig(cfg)}
}

func newCloud(t *testing.T, o fake.Options) (*fake.Cloud, clients) {
	t.Helper()
	c := fake.New(o)
	t.Cleanup(c.Close)
	return c, newClients(t, c)
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// eventually polls cond every few milliseconds until it holds or 5s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func makeTemplate(t *testing.T, cl clients, name, ami string) string {
	t.Helper()
	out, err := cl.ec2.CreateLaunchTemplate(context.Background(), &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String(name),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(ami), InstanceType: ec2types.InstanceTypeT3Small},
	})
	if err != nil {
		t.Fatalf("CreateLaunchTemplate: %v", err)
	}
	return aws.ToString(out.LaunchTemplate.LaunchTemplateId)
}

func TestLaunchTemplateVersions(t *testing.T) {
	_, cl := newCloud(t, fake.Options{VersionPageSize: 2})
	ctx := context.Background()
	id := makeTemplate(t, cl, "web", "ami-base")
	v, err := cl.ec2.CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{
		LaunchTemplateId: aws.String(id), SourceVersion: aws.String("1"), VersionDescription: aws.String("mine"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String("ami-new")},
	})
	if err != nil {
		t.Fatalf("CreateLaunchTemplateVersion: %v", err)
	}
	got := v.LaunchTemplateVersion
	if aws.ToInt64(got.VersionNumber) != 2 || aws.ToString(got.LaunchTemplateData.ImageId) != "ami-new" ||
		got.LaunchTemplateData.InstanceType != ec2types.InstanceTypeT3Small || aws.ToBool(got.DefaultVersion) {
		t.Fatalf("version 2 = %+v, data %+v; want ami-new on t3.small copied from version 1, not default", got, got.LaunchTemplateData)
	}
	for range 2 {
		if _, err := cl.ec2.CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{
			LaunchTemplateName: aws.String("web"), SourceVersion: aws.String("$Default"),
			LaunchTemplateData: &ec2types.RequestLaunchTemplateData{InstanceType: ec2types.InstanceTypeM5Large},
		}); err != nil {
			t.Fatal(err)
		}
	}
	// Paginated, filtered listing through the SDK's paginator.
	var nums []int64
	p := ec2.NewDescribeLaunchTemplateVersionsPaginator(cl.ec2, &ec2.DescribeLaunchTemplateVersionsInput{
		LaunchTemplateId: aws.String(id),
		Filters:          []ec2types.Filter{{Name: aws.String("image-id"), Values: []string{"ami-base"}}},
	})
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, v := range out.LaunchTemplateVersions {
			nums = append(nums, aws.ToInt64(v.VersionNumber))
		}
	}
	if fmt.Sprint(nums) != "[1 3 4]" || pages != 2 {
		t.Fatalf("versions with ami-base = %v in %d pages, want [1 3 4] in 2 pages", nums, pages)
	}
	del, err := cl.ec2.DeleteLaunchTemplateVersions(ctx, &ec2.DeleteLaunchTemplateVersionsInput{
		LaunchTemplateId: aws.String(id), Versions: []string{"1", "2", "9"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(del.SuccessfullyDeletedLaunchTemplateVersions) != 1 || len(del.UnsuccessfullyDeletedLaunchTemplateVersions) != 2 {
		t.Fatalf("deleted %+v, failed %+v; want only version 2 deleted (1 is the default, 9 does not exist)",
			del.SuccessfullyDeletedLaunchTemplateVersions, del.UnsuccessfullyDeletedLaunchTemplateVersions)
	}
	if c := del.UnsuccessfullyDeletedLaunchTemplateVersions[0].ResponseError.Code; c != ec2types.LaunchTemplateErrorCodeUnexpectedError {
		t.Fatalf("deleting the default version failed with %q", c)
	}
	_, err = cl.ec2.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{LaunchTemplateIds: []string{"lt-missing"}})
	if apiCode(err) != "InvalidLaunchTemplateId.NotFound" {
		t.Fatalf("DescribeLaunchTemplates(missing) err = %v, want InvalidLaunchTemplateId.NotFound", err)
	}
}

func TestGroupLifecycleAndHealthEndpoints(t *testing.T) {
	c, cl := newCloud(t, fake.Options{
		HealthPath: "/healthz",
		// Wide enough that a loaded machine still sees the fresh states.
		BootDelay:        300 * time.Millisecond,
		ConsistencyDelay: 400 * time.Millisecond,
		ImageBehaviour:   map[string]fake.Behaviour{"ami-bad": fake.BehaviourUnhealthy},
	})
	ctx := context.Background()
	id := makeTemplate(t, cl, "web", "ami-good")
	if _, err := cl.ec2.CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{
		LaunchTemplateId: aws.String(id), SourceVersion: aws.String("1"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String("ami-bad")},
	}); err != nil {
		t.Fatal(err)
	}
	_, err := cl.asg.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String("g"), MinSize: aws.Int32(0), MaxSize: aws.Int32(3), DesiredCapacity: aws.Int32(2),
		LaunchTemplate:    &asgtypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(id), Version: aws.String("1")},
		VPCZoneIdentifier: aws.String("subnet-a,subnet-b"),
		Tags:              []asgtypes.Tag{{Key: aws.String("team"), Value: aws.String("web"), PropagateAtLaunch: aws.Bool(true)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	describe := func() asgtypes.AutoScalingGroup {
		out, err := cl.asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{"g"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.AutoScalingGroups) != 1 {
			t.Fatalf("got %d groups", len(out.AutoScalingGroups))
		}
		return out.AutoScalingGroups[0]
	}
	g := describe()
	if len(g.Instances) != 2 || g.Instances[0].LifecycleState != asgtypes.LifecycleStatePending {
		t.Fatalf("fresh group instances = %+v, want 2 Pending", g.Instances)
	}
	// Freshly launched: EC2 does not know the instance yet.
	first := aws.ToString(g.Instances[0].InstanceId)
	_, err = cl.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{first}})
	if apiCode(err) != "InvalidInstanceID.NotFound" {
		t.Fatalf("DescribeInstances(fresh) err = %v, want InvalidInstanceID.NotFound", err)
	}
	eventually(t, "instances InService", func() bool {
		g = describe()
		for _, in := range g.Instances {
			if in.LifecycleState != asgtypes.LifecycleStateInService {
				return false
			}
		}
		return len(g.Instances) == 2
	})
	var ips []string
	ipOf := map[string]string{}
	eventually(t, "instances visible to EC2", func() bool {
		out, err := cl.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{first, aws.ToString(g.Instances[1].InstanceId)}})
		if err != nil {
			return false
		}
		ips = ips[:0]
		for _, r := range out.Reservations {
			for _, in := range r.Instances {
				if in.State.Name != ec2types.InstanceStateNameRunning || in.Tags == nil {
					t.Fatalf("instance %+v, want running with tags", in)
				}
				ips = append(ips, aws.ToString(in.PrivateIpAddress))
				ipOf[aws.ToString(in.InstanceId)] = aws.ToString(in.PrivateIpAddress)
			}
		}
		return len(ips) == 2
	})
	for _, ip := range ips {
		if !strings.HasPrefix(ip, "127.88.") {
			t.Fatalf("private IP %s not in 127.88.0.0/16", ip)
		}
		if code := httpStatus(t, "http://"+ip+":18080/healthz"); code != 200 {
			t.Fatalf("health of %s = %d, want 200", ip, code)
		}
	}
	// Point at the unhealthy version and grow: the new instance answers 500.
	if _, err := cl.asg.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String("g"), DesiredCapacity: aws.Int32(3),
		LaunchTemplate: &asgtypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(id), Version: aws.String("2")},
	}); err != nil {
		t.Fatal(err)
	}
	var bad string
	eventually(t, "third instance InService", func() bool {
		for _, in := range c.Instances() {
			if in.LaunchTemplateVersion == "2" && in.Lifecycle == "InService" {
				bad = in.PrivateIP
				return true
			}
		}
		return false
	})
	if code := httpStatus(t, "http://"+bad+":18080/healthz"); code != 500 {
		t.Fatalf("health of unhealthy image = %d, want 500", code)
	}
	// Scale in with decrement removes exactly the chosen instance.
	if _, err := cl.asg.TerminateInstanceInAutoScalingGroup(ctx, &autoscaling.TerminateInstanceInAutoScalingGroupInput{
		InstanceId: aws.String(first), ShouldDecrementDesiredCapacity: aws.Bool(true),
	}); err != nil {
		t.Fatal(err)
	}
	if code := httpStatus(t, "http://"+ipOf[first]+":18080/healthz"); code != 0 {
		t.Fatalf("terminating instance still answers %d", code)
	}
	eventually(t, "terminated instance gone from the group", func() bool {
		g = describe()
		return len(g.Instances) == 2 && aws.ToInt32(g.DesiredCapacity) == 2
	})
	for _, in := range g.Instances {
		if aws.ToString(in.InstanceId) == first {
			t.Fatalf("terminated instance %s still in group", first)
		}
	}
	_, err = cl.asg.TerminateInstanceInAutoScalingGroup(ctx, &autoscaling.TerminateInstanceInAutoScalingGroupInput{
		InstanceId: aws.String(first), ShouldDecrementDesiredCapacity: aws.Bool(true),
	})
	if apiCode(err) != "ValidationError" || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("terminating a gone instance: %v, want ValidationError ... not found", err)
	}
	// Delete without force refuses while instances remain.
	_, err = cl.asg.DeleteAutoScalingGroup(ctx, &autoscaling.DeleteAutoScalingGroupInput{AutoScalingGroupName: aws.String("g")})
	if code := apiCode(err); code != "ResourceInUse" && code != "ScalingActivityInProgress" {
		t.Fatalf("DeleteAutoScalingGroup(non-empty) err = %v", err)
	}
	if _, err := cl.asg.DeleteAutoScalingGroup(ctx, &autoscaling.DeleteAutoScalingGroupInput{AutoScalingGroupName: aws.String("g"), ForceDelete: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "group deleted", func() bool { _, ok := c.Group("g"); return !ok })
}

func httpStatus(t *testing.T, url string) int {
	t.Helper()
	cl := &http.Client{Timeout: time.Second}
	resp, err := cl.Get(url)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

func TestCrashingImageIsReplaced(t *testing.T) {
	c, cl := newCloud(t, fake.Options{ImageBehaviour: map[string]fake.Behaviour{"ami-crash": fake.BehaviourCrash}})
	ctx := context.Background()
	id := makeTemplate(t, cl, "web", "ami-crash")
	if _, err := cl.asg.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String("g"), MinSize: aws.Int32(0), MaxSize: aws.Int32(1), DesiredCapacity: aws.Int32(1),
		LaunchTemplate: &asgtypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(id), Version: aws.String("1")},
	}); err != nil {
		t.Fatal(err)
	}
	var firstID string
	eventually(t, "crashed instance marked Unhealthy", func() bool {
		for _, in := range c.Instances() {
			if in.HealthStatus == "Unhealthy" && in.Lifecycle == "InService" {
				firstID = in.ID
				if code := httpStatus(t, "http://"+in.PrivateIP+":18080/"); code != 0 {
					t.Fatalf("crashed instance answers HTTP %d", code)
				}
				return true
			}
		}
		return false
	})
	eventually(t, "replacement launched", func() bool {
		g, _ := c.Group("g")
		return len(g.InstanceIDs) >= 1 && g.InstanceIDs[len(g.InstanceIDs)-1] != firstID
	})
}

func TestErrorsThrottlingAndFaults(t *testing.T) {
	c, cl := newCloud(t, fake.Options{Throttle: &fake.Limits{
		EC2Describe: fake.Bucket{Size: 2, RefillPerSecond: 0.001},
		ASGDescribe: fake.Bucket{Size: 1, RefillPerSecond: 0.001},
		SSM:         fake.Bucket{Size: 1, RefillPerSecond: 0.001},
	}})
	ctx := context.Background()
	for i := range 3 {
		_, err := cl.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
		if i < 2 && err != nil {
			t.Fatalf("call %d within the bucket: %v", i, err)
		}
		if i == 2 && apiCode(err) != "RequestLimitExceeded" {
			t.Fatalf("call beyond the bucket: %v, want RequestLimitExceeded", err)
		}
	}
	// Each API has its own bucket: DescribeImages is not throttled yet.
	if _, err := cl.ec2.DescribeImages(ctx, &ec2.DescribeImagesInput{}); err != nil {
		t.Fatalf("DescribeImages: %v", err)
	}
	cl.asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{})
	_, err := cl.asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{})
	if apiCode(err) != "Throttling" {
		t.Fatalf("Auto Scaling beyond the bucket: %v, want Throttling", err)
	}
	c.SetParameter("/p", "ami-1")
	cl.ssm.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/p")})
	_, err = cl.ssm.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/p")})
	if apiCode(err) != "ThrottlingException" {
		t.Fatalf("SSM beyond the bucket: %v, want ThrottlingException", err)
	}
	if th := c.Throttled(); th["DescribeInstances"] != 1 || th["DescribeAutoScalingGroups"] != 1 {
		t.Fatalf("Throttled() = %v", th)
	}
	c.SetThrottle(nil)

	c.FailNext("DescribeAutoScalingGroups", 1, "ServiceUnavailable")
	c.FailNext("DescribeImages", 1, "InternalError")
	_, err = cl.asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{})
	var re interface{ HTTPStatusCode() int }
	if apiCode(err) != "ServiceUnavailable" || !errors.As(err, &re) || re.HTTPStatusCode() != 503 {
		t.Fatalf("injected fault: %v, want ServiceUnavailable with HTTP 503", err)
	}
	_, err = cl.ec2.DescribeImages(ctx, &ec2.DescribeImagesInput{})
	if apiCode(err) != "InternalError" || !errors.As(err, &re) || re.HTTPStatusCode() != 500 {
		t.Fatalf("injected fault: %v, want InternalError with HTTP 500", err)
	}
	if _, err := cl.asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{}); err != nil {
		t.Fatalf("after the fault: %v", err)
	}
	_, err = cl.ssm.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/missing")})
	if apiCode(err) != "ParameterNotFound" {
		t.Fatalf("missing parameter: %v", err)
	}
	out, err := cl.ssm.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/p")})
	if err != nil || aws.ToString(out.Parameter.Value) != "ami-1" {
		t.Fatalf("GetParameter = %+v, %v", out, err)
	}
	if calls := c.Calls(); calls["DescribeAutoScalingGroups"] != 4 || calls["GetParameter"] != 4 {
		t.Fatalf("Calls() = %v, want 4 DescribeAutoScalingGroups and 4 GetParameter", calls)
	}
}

func TestPaginationAndImages(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2026, 1, d, 0, 0, 0, 0, time.UTC) }
	c, cl := newCloud(t, fake.Options{
		ASGPageSize: 2, InstancePageSize: 3, ImagePageSize: 1,
		Images: []fake.Image{
			{ID: "ami-a", Name: "al2023-ami-2026.1-x86_64", OwnerID: "137112412989", OwnerAlias: "amazon", CreationDate: day(1)},
			{ID: "ami-b", Name: "al2023-ami-2026.2-x86_64", OwnerID: "137112412989", OwnerAlias: "amazon", CreationDate: day(2)},
			{ID: "ami-c", Name: "al2023-ami-2026.3-arm64", OwnerID: "137112412989", OwnerAlias: "amazon", CreationDate: day(3)},
			{ID: "ami-mine", Name: "web-1", Tags: map[string]string{"role": "web"}, CreationDate: day(4)},
		},
	})
	ctx := context.Background()
	id := makeTemplate(t, cl, "web", "ami-a")
	for i := range 5 {
		if _, err := cl.asg.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
			AutoScalingGroupName: aws.String(fmt.Sprintf("g%d", i)), MinSize: aws.Int32(0), MaxSize: aws.Int32(2), DesiredCapacity: aws.Int32(2),
			LaunchTemplate: &asgtypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(id), Version: aws.String("1")},
		}); err != nil {
			t.Fatal(err)
		}
	}
	groups, pages := 0, 0
	for p := autoscaling.NewDescribeAutoScalingGroupsPaginator(cl.asg, &autoscaling.DescribeAutoScalingGroupsInput{}); p.HasMorePages(); {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		groups += len(out.AutoScalingGroups)
		pages++
	}
	if groups != 5 || pages != 3 {
		t.Fatalf("%d groups in %d pages, want 5 in 3", groups, pages)
	}
	instances, pages := 0, 0
	for p := ec2.NewDescribeInstancesPaginator(cl.ec2, &ec2.DescribeInstancesInput{MaxResults: aws.Int32(100)}); p.HasMorePages(); {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range out.Reservations {
			instances += len(r.Instances)
		}
		pages++
	}
	if instances != 10 || pages != 4 {
		t.Fatalf("%d instances in %d pages, want 10 in 4", instances, pages)
	}
	var names []string
	for p := ec2.NewDescribeImagesPaginator(cl.ec2, &ec2.DescribeImagesInput{
		Owners:  []string{"amazon"},
		Filters: []ec2types.Filter{{Name: aws.String("name"), Values: []string{"al2023-ami-2026.?-x86_64"}}},
	}); p.HasMorePages(); {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range out.Images {
			names = append(names, aws.ToString(im.Name)+"@"+aws.ToString(im.CreationDate))
		}
	}
	if fmt.Sprint(names) != "[al2023-ami-2026.1-x86_64@2026-01-01T00:00:00.000Z al2023-ami-2026.2-x86_64@2026-01-02T00:00:00.000Z]" {
		t.Fatalf("images = %v", names)
	}
	out, err := cl.ec2.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"self"},
		Filters: []ec2types.Filter{{Name: aws.String("tag:role"), Values: []string{"web"}}}})
	if err != nil || len(out.Images) != 1 || aws.ToString(out.Images[0].ImageId) != "ami-mine" {
		t.Fatalf("tag filter: %+v, %v", out, err)
	}
	_ = c
}

func TestSlowImageAnswersLate(t *testing.T) {
	c, cl := newCloud(t, fake.Options{SlowDelay: 400 * time.Millisecond, DefaultBehaviour: fake.BehaviourSlow})
	ctx := context.Background()
	id := makeTemplate(t, cl, "web", "ami-slow")
	if _, err := cl.asg.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String("g"), MinSize: aws.Int32(0), MaxSize: aws.Int32(1), DesiredCapacity: aws.Int32(1),
		LaunchTemplate: &asgtypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(id), Version: aws.String("1")},
	}); err != nil {
		t.Fatal(err)
	}
	var ip string
	eventually(t, "instance InService", func() bool {
		for _, in := range c.Instances() {
			if in.Lifecycle == "InService" {
				ip = in.PrivateIP
				return true
			}
		}
		return false
	})
	impatient := &http.Client{Timeout: 50 * time.Millisecond}
	if resp, err := impatient.Get("http://" + ip + ":18080/"); err == nil {
		resp.Body.Close()
		t.Fatalf("slow instance answered %d within 50ms", resp.StatusCode)
	}
	if code := httpStatus(t, "http://"+ip+":18080/"); code != 200 {
		t.Fatalf("slow instance, waited for: %d, want 200", code)
	}
}

func TestSuspendedProcessesAndTags(t *testing.T) {
	c, cl := newCloud(t, fake.Options{})
	ctx := context.Background()
	id := makeTemplate(t, cl, "web", "ami-1")
	if _, err := cl.asg.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String("g"), MinSize: aws.Int32(0), MaxSize: aws.Int32(3), DesiredCapacity: aws.Int32(0),
		LaunchTemplate: &asgtypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(id)},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.asg.SuspendProcesses(ctx, &autoscaling.SuspendProcessesInput{AutoScalingGroupName: aws.String("g"), ScalingProcesses: []string{"Launch"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.asg.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String("g"), DesiredCapacity: aws.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	// Several lifecycle advances pass: nothing may launch.
	start := c.LifecycleTicks()
	eventually(t, "five lifecycle ticks", func() bool { return c.LifecycleTicks() >= start+5 })
	if g, _ := c.Group("g"); len(g.InstanceIDs) != 0 || g.LaunchTemplateVersion != "$Default" {
		t.Fatalf("with Launch suspended the group launched %v (version %s)", g.InstanceIDs, g.LaunchTemplateVersion)
	}
	if _, err := cl.asg.ResumeProcesses(ctx, &autoscaling.ResumeProcessesInput{AutoScalingGroupName: aws.String("g")}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "launch after resume", func() bool { g, _ := c.Group("g"); return len(g.InstanceIDs) == 2 })
	_, err := cl.asg.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String("g"), DesiredCapacity: aws.Int32(4)})
	if apiCode(err) != "ValidationError" || !strings.Contains(err.Error(), "above max") {
		t.Fatalf("SetDesiredCapacity above max: %v", err)
	}
	tag := func(k, v string) asgtypes.Tag {
		return asgtypes.Tag{ResourceId: aws.String("g"), ResourceType: aws.String("auto-scaling-group"), Key: aws.String(k), Value: aws.String(v)}
	}
	if _, err := cl.asg.CreateOrUpdateTags(ctx, &autoscaling.CreateOrUpdateTagsInput{Tags: []asgtypes.Tag{tag("a", "1"), tag("b", "2")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.asg.DeleteTags(ctx, &autoscaling.DeleteTagsInput{Tags: []asgtypes.Tag{tag("a", "")}}); err != nil {
		t.Fatal(err)
	}
	out, err := cl.asg.DescribeTags(ctx, &autoscaling.DescribeTagsInput{Filters: []asgtypes.Filter{
		{Name: aws.String("auto-scaling-group"), Values: []string{"g"}}}})
	if err != nil || len(out.Tags) != 1 || aws.ToString(out.Tags[0].Key) != "b" || aws.ToString(out.Tags[0].Value) != "2" {
		t.Fatalf("DescribeTags = %+v, %v; want only b=2", out, err)
	}
}
