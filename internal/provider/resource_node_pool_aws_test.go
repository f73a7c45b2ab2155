package provider

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	fake "github.com/noderoll/terraform-provider-noderoll/internal/fakecloud/aws"
	"github.com/noderoll/terraform-provider-noderoll/providers/asg"
	"github.com/noderoll/terraform-provider-noderoll/rollout"
)

// AMIs the AWS tests roll between. amiBad's instances answer HTTP 500.
const (
	amiV1  = "ami-0000000000000a001"
	amiV2  = "ami-0000000000000a002"
	amiBad = "ami-0000000000000bad0"
	// amiCrash's instances never serve; the group marks them Unhealthy.
	amiCrash = "ami-0000000000000c0de"
)

// Static credentials for the fake; TestMain puts them in the environment,
// where the SDK's default chain finds them, as it would a user's.
const (
	testAccessKey = "AKIDNODEROLLTEST"
	testSecretKey = "noderoll-test-secret"
)

// awsEnv is a fake EC2/Auto Scaling/SSM in the test process with a base
// launch template, as aws_launch_template would have made it.
type awsEnv struct {
	cloud *fake.Cloud
	ec2   *ec2.Client
	ltID  string
	port  int // every instance's health port
	// baseVersions are the base template's own versions, which a destroy
	// leaves; nil means only the first.
	baseVersions []int
}

func newAWSEnv(t *testing.T, port int, o fake.Options) *awsEnv {
	t.Helper()
	o.HealthPort = port
	if o.ImageBehaviour == nil {
		o.ImageBehaviour = map[string]fake.Behaviour{amiBad: fake.BehaviourUnhealthy, amiCrash: fake.BehaviourCrash}
	}
	c := fake.New(o)
	t.Cleanup(c.Close)
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(testAccessKey, testSecretKey, ""),
		BaseEndpoint: aws.String(c.URL())}
	e := &awsEnv{cloud: c, ec2: ec2.NewFromConfig(cfg), port: port}
	out, err := e.ec2.CreateLaunchTemplate(context.Background(), &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String("web-base"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(amiV1), InstanceType: ec2types.InstanceTypeT3Micro},
	})
	if err != nil {
		t.Fatalf("create base launch template: %v", err)
	}
	e.ltID = aws.ToString(out.LaunchTemplate.LaunchTemplateId)
	return e
}

// providerHCL points the provider's aws_asg block at the fake.
func (e *awsEnv) providerHCL() string {
	u := e.cloud.URL()
	return fmt.Sprintf(`
provider "noderoll" {
  aws_asg {
    region = "us-east-1"
    # Paced, as a production configuration may be: the tests' calls fit.
    requests_per_second = 50
    endpoints {
      ec2         = %q
      autoscaling = %q
      ssm         = %q
    }
  }
}
`, u, u, u)
}

// awsPool renders one aws_asg pool probed over HTTP at its instances'
// private addresses, with the acceptance tests' small timings.
type awsPool struct {
	env     *awsEnv
	name    string
	size    int
	image   string // HCL expression
	group   string // group_name, "" for the default
	lt      string // aws_asg attributes naming the base template; "" for launch_template_id
	rollout string
	health  string // replaces the health_check block when set
	extra   string
}

func (p awsPool) hcl() string {
	lt := p.lt
	if lt == "" {
		lt = fmt.Sprintf("launch_template_id = %q", p.env.ltID)
	}
	if p.group != "" {
		lt += fmt.Sprintf("\n    group_name = %q", p.group)
	}
	health := fmt.Sprintf(`health_check {
    http {
      port = %d
      path = "/healthz"
    }
    interval          = "200ms"
    timeout           = "200ms"
    healthy_threshold = 1
  }`, p.env.port)
	if p.health != "" {
		health = p.health
	}
	return p.env.providerHCL() + fmt.Sprintf(`
resource "noderoll_node_pool" "test" {
  name         = %q
  size         = %d
  image        = %s
  machine_type = "t3.small"

  aws_asg {
    %s
    subnet_ids = ["subnet-0a1b2c3d", "subnet-0a1b2c3e"]
  }
  rollout {
    min_ready     = "300ms"
    node_deadline = "3s"
    %s
  }
  %s
  %s
}
`, p.name, p.size, p.image, lt, p.rollout, health, p.extra)
}

// groupInstances are the group's instances as the fake sees them.
func (e *awsEnv) groupInstances(group string) []fake.Instance {
	var out []fake.Instance
	for _, in := range e.cloud.Instances() {
		if in.Group == group {
			out = append(out, in)
		}
	}
	return out
}

// checkGroup checks, outside Terraform, that the group has exactly size
// instances in service on ami, each answering its health check at its
// 127.88.x.y address, and records their IDs in ids when ids is not nil.
func (e *awsEnv) checkGroup(group string, size int, ami string, ids *[]string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		g, ok := e.cloud.Group(group)
		if !ok {
			return fmt.Errorf("group %s does not exist", group)
		}
		if g.Desired != size || len(g.InstanceIDs) != size {
			return fmt.Errorf("group %s: desired %d with %d instances, want %d", group, g.Desired, len(g.InstanceIDs), size)
		}
		var got []string
		c := http.Client{Timeout: time.Second}
		for _, in := range e.groupInstances(group) {
			if in.ImageID != ami || in.Lifecycle != "InService" {
				return fmt.Errorf("instance %s: %s on %s, want InService on %s", in.ID, in.Lifecycle, in.ImageID, ami)
			}
			if !strings.HasPrefix(in.PrivateIP, "127.88.") {
				return fmt.Errorf("instance %s has address %s, want one of the fake's 127.88.x.y", in.ID, in.PrivateIP)
			}
			resp, err := c.Get("http://" + net.JoinHostPort(in.PrivateIP, strconv.Itoa(e.port)) + "/healthz")
			if err != nil {
				return fmt.Errorf("instance %s does not serve: %v", in.ID, err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("instance %s answers %d", in.ID, resp.StatusCode)
			}
			if in.LaunchTemplateID != e.ltID || in.LaunchTemplateVersion != g.LaunchTemplateVersion {
				return fmt.Errorf("instance %s runs %s:%s, want the group's %s:%s", in.ID, in.LaunchTemplateID, in.LaunchTemplateVersion, e.ltID, g.LaunchTemplateVersion)
			}
			got = append(got, in.ID)
		}
		if ids != nil {
			*ids = got
		}
		return nil
	}
}

// checkNoneOf fails if an instance of before is still in the group.
func (e *awsEnv) checkNoneOf(group string, before *[]string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		if len(*before) == 0 {
			return fmt.Errorf("no instance IDs recorded before")
		}
		for _, in := range e.groupInstances(group) {
			if slices.Contains(*before, in.ID) {
				return fmt.Errorf("instance %s was not replaced", in.ID)
			}
		}
		return nil
	}
}

// checkAllOf fails unless every instance of before is still in the group.
func (e *awsEnv) checkAllOf(group string, before *[]string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		var have []string
		for _, in := range e.groupInstances(group) {
			have = append(have, in.ID)
		}
		for _, id := range *before {
			if !slices.Contains(have, id) {
				return fmt.Errorf("instance %s was replaced or removed (group has %v)", id, have)
			}
		}
		return nil
	}
}

// checkAWSGone is a CheckDestroy: no group, no launch template version
// beyond the base template's own, every instance terminated (the fake takes
// its TerminateDelay to finish shutting one down, so that is waited for).
func (e *awsEnv) checkAWSGone(group string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		if _, ok := e.cloud.Group(group); ok {
			return fmt.Errorf("group %s still exists", group)
		}
		base := e.baseVersions
		if base == nil {
			base = []int{1}
		}
		if v := e.cloud.LaunchTemplateVersions(e.ltID); !slices.Equal(v, base) {
			return fmt.Errorf("launch template %s has versions %v, want only the base's %v", e.ltID, v, base)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			var alive []string
			for _, in := range e.cloud.Instances() {
				if in.State != "terminated" {
					alive = append(alive, in.ID+" "+in.State)
				}
			}
			if len(alive) == 0 {
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("instances not terminated after destroy: %v", alive)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// TestAccAWSNodePool_lifecycle: create an Auto Scaling group through the
// fake, roll it to a new AMI (a new launch template version, every instance
// replaced), fail a roll to an AMI whose instances answer 500 and roll back,
// import the group by name, and destroy it without leaving anything behind.
func TestAccAWSNodePool_lifecycle(t *testing.T) {
	e := newAWSEnv(t, 39311, fake.Options{})
	const group = "noderoll-awslife"
	p := awsPool{env: e, name: "awslife", size: 3, image: strconv.Quote(amiV1)}
	v2 := p
	v2.image = strconv.Quote(amiV2)
	bad := p
	bad.image = strconv.Quote(amiBad)
	var ids []string
	var v1Version, firstTemplate string

	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviders,
		CheckDestroy:             e.checkAWSGone(group),
		Steps: []resource.TestStep{
			{
				Config: p.hcl(),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionCreate),
					planValue("action", knownvalue.StringExact("create")),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(res, "id", "awslife"),
					resource.TestCheckResourceAttr(res, "aws_asg.group_name", group),
					resource.TestCheckResourceAttr(res, "aws_asg.region", "us-east-1"),
					resource.TestCheckResourceAttr(res, "nodes.#", "3"),
					resource.TestCheckResourceAttr(res, "nodes.0.healthy", "true"),
					resource.TestCheckResourceAttrWith(res, "nodes.0.address", func(v string) error {
						if !strings.HasPrefix(v, "127.88.") {
							return fmt.Errorf("node address %s: want the instance's private address 127.88.x.y", v)
						}
						return nil
					}),
					resource.TestCheckResourceAttr(res, "last_rollout.outcome", "converged"),
					resource.TestCheckResourceAttrWith(res, "template", func(v string) error {
						if !strings.HasPrefix(v, e.ltID+":") {
							return fmt.Errorf("template %s: want a numbered version of %s", v, e.ltID)
						}
						return nil
					}),
					storeAttr("template", &firstTemplate),
					e.checkGroup(group, 3, amiV1, &ids),
					func(*terraform.State) error {
						g, _ := e.cloud.Group(group)
						v1Version = g.LaunchTemplateVersion
						if g.Tags[asg.TagManaged] != "true" || g.Tags[asg.TagPool] != "awslife" || g.VPCZoneIdentifier != "subnet-0a1b2c3d,subnet-0a1b2c3e" {
							return fmt.Errorf("group %+v: want noderoll's tags and the configured subnets", g)
						}
						return nil
					},
				),
			},
			{
				// A new AMI: a new launch template version, and every
				// instance replaced one at a time.
				Config: v2.hcl(),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
					planValue("action", knownvalue.StringExact("roll")),
					planValue("replaced", knownvalue.Int64Exact(3)),
					planValue("waves", knownvalue.Int64Exact(3)),
					planValue("max_nodes", knownvalue.Int64Exact(4)),
					planValue("summary", knownvalue.StringRegexp(regexp.MustCompile(
						`^roll 3 node\(s\) from image=`+amiV1+` machine_type=t3.small to image=`+amiV2+` machine_type=t3.small in 3 wave\(s\)`))),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					e.checkNoneOf(group, &ids),
					e.checkGroup(group, 3, amiV2, &ids),
					func(*terraform.State) error {
						g, _ := e.cloud.Group(group)
						if g.LaunchTemplateVersion == v1Version {
							return fmt.Errorf("group still on launch template version %s", v1Version)
						}
						if v := e.cloud.LaunchTemplateVersions(e.ltID); len(v) != 3 {
							return fmt.Errorf("launch template versions %v: want the base and one per AMI", v)
						}
						if g.Tags[asg.TagOrigin] != "" || slices.Contains(g.SuspendedProcesses, "AZRebalance") {
							return fmt.Errorf("group after the roll: %+v: want no origin tag and AZRebalance resumed", g)
						}
						return nil
					},
					resource.TestCheckResourceAttr(res, "image", amiV2),
					resource.TestCheckResourceAttr(res, "last_rollout.replaced", "3"),
					resource.TestCheckResourceAttrPtr(res, "previous_template", &firstTemplate),
				),
			},
			{
				// Instances of amiBad answer 500: the roll fails and is
				// rolled back to amiV2.
				Config: bad.hcl(),
				ExpectError: regexp.MustCompile(`(?s)Node Pool Rollout Failed And Was Rolled Back.*` +
					`GET http://127\.88\.[0-9]+\.[0-9]+:39311/healthz: status 500.*` +
					`The pool now: 3 nodes \(3 healthy\), image ` + amiV2 + `.*back on its previous template`),
			},
			{
				// State says amiV2, as the group is: nothing to plan, and
				// the instances that served before the failed roll still do.
				Config:   v2.hcl(),
				PlanOnly: true,
			},
			{
				Config: v2.hcl(),
				Check: resource.ComposeAggregateTestCheckFunc(
					e.checkGroup(group, 3, amiV2, nil),
					e.checkAllOf(group, &ids),
					resource.TestCheckResourceAttr(res, "last_rollout.outcome", "rolled_back"),
				),
			},
			{
				// Import by group name adopts the group as it is.
				Config:            v2.hcl(),
				ResourceName:      res,
				ImportState:       true,
				ImportStateId:     "aws_asg:us-east-1/" + group,
				ImportStateVerify: true,
				// Create-time settings stay the group's own; the blocks
				// that only live in configuration cannot be read back.
				ImportStateVerifyIgnore: []string{"aws_asg.subnet_ids", "rollout", "health_check", "timeouts", "rollout_plan", "last_rollout", "previous_template"},
			},
		},
	})
}

// TestAccAWSNodePool_adopt: a group made outside Terraform is not taken
// over by a create (the error says how to import it); imported by name, it
// is adopted as it is, and the next apply replaces no instance.
func TestAccAWSNodePool_adopt(t *testing.T) {
	e := newAWSEnv(t, 39312, fake.Options{})
	const group = "legacy-web"
	p := awsPool{env: e, name: "legacy-web", size: 2, image: strconv.Quote(amiV1), group: group, lt: `launch_template_name = "web-base"`}
	var before []string

	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviders,
		CheckDestroy:             e.checkAWSGone(group),
		Steps: []resource.TestStep{
			{
				PreConfig: func() {
					// Someone else's group of two amiV1 instances, made
					// with the backend and the engine directly.
					d, err := asg.New(context.Background(), asg.Options{
						Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(testAccessKey, testSecretKey, ""),
						Endpoints: asg.Endpoints{EC2: e.cloud.URL(), AutoScaling: e.cloud.URL(), SSM: e.cloud.URL()},
						GroupName: group, LaunchTemplateID: e.ltID, SubnetIDs: []string{"subnet-0a1b2c3d"},
					})
					if err != nil {
						t.Fatal(err)
					}
					s := rollout.DefaultStrategy()
					s.ProbeInterval, s.HealthyThreshold, s.MinReady = 100*time.Millisecond, 1, 0
					ex, err := rollout.New(rollout.Options{Driver: d, Strategy: s, Prober: rollout.ProberFunc(func(context.Context, rollout.Node) error { return nil })})
					if err != nil {
						t.Fatal(err)
					}
					if _, err := ex.Apply(context.Background(), rollout.Spec{Size: 2, Image: amiV1, MachineType: "t3.small"}); err != nil {
						t.Fatal(err)
					}
					if err := e.checkGroup(group, 2, amiV1, &before)(nil); err != nil {
						t.Fatal(err)
					}
				},
				Config:      p.hcl(),
				ExpectError: regexp.MustCompile(`(?s)Node Pool Already Exists.*terraform import <address>\s+aws_asg:us-east-1/` + group),
			},
			{
				Config:             p.hcl(),
				ResourceName:       res,
				ImportState:        true,
				ImportStateId:      "aws_asg:" + group,
				ImportStatePersist: true,
				ImportStateCheck: func(s []*terraform.InstanceState) error {
					a := s[0].Attributes
					if len(s) != 1 || a["name"] != group || a["aws_asg.group_name"] != group || a["aws_asg.launch_template_id"] != e.ltID ||
						a["image"] != amiV1 || a["size"] != "2" || a["nodes.#"] != "2" || a["nodes.1.healthy"] != "true" {
						return fmt.Errorf("imported state: %v", a)
					}
					return nil
				},
			},
			{
				// The imported group is on the configuration's AMI: the plan
				// records the configuration's create-time settings in place,
				// replaces nothing and rolls no instance.
				Config: p.hcl(),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
					planValue("action", knownvalue.StringExact("none")),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					e.checkAllOf(group, &before),
					e.checkGroup(group, 2, amiV1, nil),
					resource.TestCheckResourceAttr(res, "aws_asg.launch_template_name", "web-base"),
					resource.TestCheckResourceAttr(res, "aws_asg.subnet_ids.#", "2"),
				),
			},
			{Config: p.hcl(), PlanOnly: true},
			{
				// From now on a create-time setting replaces the pool.
				Config:             strings.Replace(p.hcl(), `"subnet-0a1b2c3e"`, `"subnet-0a1b2c3f"`, 1),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionReplace),
					plancheck.ExpectKnownValue(res, tfjsonpath.New("aws_asg").AtMapKey("group_name"), knownvalue.StringExact(group)),
				}},
			},
		},
	})
}

// TestAccAWSNodePool_cloudHealth: with health_check.cloud = true and no
// network probe, the group's own health status is the only check: a pool
// converges on it, and a roll to an AMI whose instances the group marks
// Unhealthy fails with the group's verdict and is rolled back.
func TestAccAWSNodePool_cloudHealth(t *testing.T) {
	e := newAWSEnv(t, 39315, fake.Options{})
	const group = "noderoll-cloudy"
	p := awsPool{env: e, name: "cloudy", size: 2, image: strconv.Quote(amiV1), health: `health_check {
    cloud             = true
    interval          = "200ms"
    healthy_threshold = 1
  }`}
	crash := p
	crash.image = strconv.Quote(amiCrash)
	var ids []string
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviders,
		CheckDestroy:             e.checkAWSGone(group),
		Steps: []resource.TestStep{
			{
				Config: p.hcl(),
				Check: resource.ComposeAggregateTestCheckFunc(
					e.checkGroup(group, 2, amiV1, &ids),
					resource.TestCheckResourceAttr(res, "nodes.0.healthy", "true"),
					resource.TestCheckResourceAttr(res, "nodes.1.healthy", "true"),
				),
			},
			{
				Config: crash.hcl(),
				// The group marks each new instance Unhealthy and starts
				// replacing it; whichever the engine observes first fails it.
				ExpectError: regexp.MustCompile(`(?s)Node Pool Rollout Failed And Was Rolled Back.*Failed nodes:\s+- i-[0-9a-f]+: ` +
					`(cloud reports node i-[0-9a-f]+ unhealthy|EC2 state shutting-down: Instance initiated shutdown).*` +
					`The pool now: 2 nodes \(2 healthy\), image ` + amiV1),
			},
			{
				Config: p.hcl(),
				Check: resource.ComposeAggregateTestCheckFunc(
					e.checkGroup(group, 2, amiV1, nil),
					e.checkAllOf(group, &ids),
				),
			},
		},
	})
}

// TestAccAWSNodePool_baseTemplateChanged: a new default version of the base
// launch template, made outside this resource (aws_launch_template with
// update_default_version), means the next apply of any kind makes a new
// version from it and replaces every instance. The plan says so before the
// apply does it: an update whose rollout_plan rolls and gives the reason.
func TestAccAWSNodePool_baseTemplateChanged(t *testing.T) {
	e := newAWSEnv(t, 39316, fake.Options{})
	const group = "noderoll-awsbase"
	p := awsPool{env: e, name: "awsbase", size: 2, image: strconv.Quote(amiV1)}
	bigger := p
	bigger.size = 3
	var ids []string
	var firstTemplate string
	var newDefault int64
	reason := func() *regexp.Regexp {
		return regexp.MustCompile(`(?s)^roll 2 node\(s\) from image=` + amiV1 + ` machine_type=t3.small \(previous base template\) to image=` + amiV1 +
			` machine_type=t3.small .*\nwhy: base launch template ` + e.ltID + ` changed: its default version is now ` +
			strconv.FormatInt(newDefault, 10) + `, and the pool's template ` + e.ltID + `:[0-9]+ was made from version 1$`)
	}
	// The checks read newDefault when they run, after PreConfig set it.
	summaryCheck := plancheck.PlanCheck(planCheckFunc(func(ctx context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
		planValue("summary", knownvalue.StringRegexp(reason())).CheckPlan(ctx, req, resp)
	}))

	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviders,
		CheckDestroy:             e.checkAWSGone(group),
		Steps: []resource.TestStep{
			{
				Config: p.hcl(),
				Check: resource.ComposeAggregateTestCheckFunc(
					e.checkGroup(group, 2, amiV1, &ids),
					storeAttr("template", &firstTemplate),
				),
			},
			{
				// The user's Terraform changes the base template: a new
				// version, made the default. Nothing in this resource's
				// configuration changed, yet the plan proposes the roll.
				PreConfig: func() {
					ctx := context.Background()
					out, err := e.ec2.CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{
						LaunchTemplateId: aws.String(e.ltID), SourceVersion: aws.String("1"), VersionDescription: aws.String("user data v2"),
						LaunchTemplateData: &ec2types.RequestLaunchTemplateData{InstanceType: ec2types.InstanceTypeT3Medium},
					})
					if err != nil {
						t.Fatalf("new base version: %v", err)
					}
					newDefault = aws.ToInt64(out.LaunchTemplateVersion.VersionNumber)
					if _, err := e.ec2.ModifyLaunchTemplate(ctx, &ec2.ModifyLaunchTemplateInput{
						LaunchTemplateId: aws.String(e.ltID), DefaultVersion: aws.String(strconv.FormatInt(newDefault, 10)),
					}); err != nil {
						t.Fatalf("make version %d the default: %v", newDefault, err)
					}
					e.baseVersions = []int{1, int(newDefault)}
				},
				Config:             p.hcl(),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
					planValue("action", knownvalue.StringExact("roll")),
					planValue("replaced", knownvalue.Int64Exact(2)),
					summaryCheck,
				}},
			},
			{
				// A size-only change: the plan previews the roll it brings.
				Config: bigger.hcl(),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
					planValue("action", knownvalue.StringExact("roll")),
					planValue("replaced", knownvalue.Int64Exact(2)),
					plancheck.PlanCheck(planCheckFunc(func(ctx context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
						planValue("summary", knownvalue.StringRegexp(regexp.MustCompile(
							`(?s)\nwhy: base launch template `+e.ltID+` changed: its default version is now `+strconv.FormatInt(newDefault, 10)))).CheckPlan(ctx, req, resp)
					})),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					e.checkNoneOf(group, &ids),
					e.checkGroup(group, 3, amiV1, nil),
					resource.TestCheckResourceAttr(res, "image", amiV1),
					resource.TestCheckResourceAttr(res, "last_rollout.replaced", "2"),
					resource.TestCheckResourceAttrPtr(res, "previous_template", &firstTemplate),
					func(*terraform.State) error {
						g, _ := e.cloud.Group(group)
						out, err := e.ec2.DescribeLaunchTemplateVersions(context.Background(), &ec2.DescribeLaunchTemplateVersionsInput{
							LaunchTemplateId: aws.String(g.LaunchTemplateID), Versions: []string{g.LaunchTemplateVersion},
						})
						if err != nil || len(out.LaunchTemplateVersions) != 1 {
							return fmt.Errorf("describe the group's version %s: %v", g.LaunchTemplateVersion, err)
						}
						want := fmt.Sprintf("noderoll pool=awsbase base=%d image=%s type=t3.small", newDefault, amiV1)
						if got := aws.ToString(out.LaunchTemplateVersions[0].VersionDescription); got != want {
							return fmt.Errorf("group's version %s is %q, want one made from the new base: %q", g.LaunchTemplateVersion, got, want)
						}
						return nil
					},
				),
			},
			// On a version of the new default: converged, nothing to plan.
			{Config: bigger.hcl(), PlanOnly: true},
			{
				// The drift check is refused during the refresh: the plan
				// still succeeds (with a warning), and shows no change.
				PreConfig: func() {
					e.cloud.ResetCalls()
					e.cloud.FailNext("DescribeLaunchTemplates", 1, "UnauthorizedOperation")
				},
				Config:   bigger.hcl(),
				PlanOnly: true,
			},
			{
				PreConfig: func() {
					if n := e.cloud.Calls()["DescribeLaunchTemplates"]; n == 0 {
						t.Fatalf("the refresh made no DescribeLaunchTemplates call: the refused drift check was not exercised")
					}
				},
				Config:   bigger.hcl(),
				PlanOnly: true,
			},
		},
	})
}

// planCheckFunc adapts a function to plancheck.PlanCheck.
type planCheckFunc func(context.Context, plancheck.CheckPlanRequest, *plancheck.CheckPlanResponse)

func (f planCheckFunc) CheckPlan(ctx context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	f(ctx, req, resp)
}
