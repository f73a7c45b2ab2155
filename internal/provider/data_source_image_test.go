package provider

import (
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	fake "github.com/noderoll/terraform-provider-noderoll/internal/fakecloud/aws"
)

const (
	amazonAccount = "137112412989"
	al2023Param   = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
	amiAL1        = "ami-00000000000a10001"
	amiAL2        = "ami-00000000000a10002"
	amiAL3        = "ami-00000000000a10003"
	amiStranger   = "ami-00000000000ff0001"
	amiTagged     = "ami-00000000000c00001"
)

func al2023(id string, created time.Time) fake.Image {
	return fake.Image{ID: id, Name: "al2023-ami-2023.6." + created.Format("20060102") + "-kernel-6.1-x86_64", OwnerID: amazonAccount,
		OwnerAlias: "amazon", CreationDate: created}
}

// TestAccImage_aws: noderoll_image resolves the newest AMI by owner and name
// (a newer image by a stranger, or with another name, does not match), by
// tags, and by an SSM public parameter; a newer AMI published later shows up
// as a plan diff that rolls the pool using it, and the roll applies.
func TestAccImage_aws(t *testing.T) {
	day := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	e := newAWSEnv(t, 39313, fake.Options{
		Images: []fake.Image{
			al2023(amiAL1, day),
			al2023(amiAL2, day.AddDate(0, 0, 7)),
			{ID: amiStranger, Name: "al2023-ami-2023.6.20990101-kernel-6.1-x86_64", OwnerID: "999999999999", CreationDate: day.AddDate(1, 0, 0)},
			{ID: amiTagged, Name: "web-golden", OwnerID: "123456789012", CreationDate: day, Tags: map[string]string{"role": "web"}},
		},
		Parameters: map[string]string{al2023Param: amiAL1},
	})
	e.cloud.AddImage(fake.Image{ID: amiV1, Name: "v1", OwnerID: "123456789012", CreationDate: day})
	pool := awsPool{env: e, name: "imaged", size: 2, image: "data.noderoll_image.al2023.id"}
	cfg := func() string {
		return pool.hcl() + `
data "noderoll_image" "al2023" {
  aws {
    owners = ["amazon"]
    name   = "al2023-ami-2023.*-kernel-6.1-x86_64"
  }
}

data "noderoll_image" "golden" {
  aws {
    owners = ["self", "123456789012"]
    tags   = { role = "web" }
  }
}

data "noderoll_image" "latest" {
  aws {
    ssm_parameter = "` + al2023Param + `"
  }
}

output "latest" {
  value = data.noderoll_image.latest.id
}
`
	}
	const al = "data.noderoll_image.al2023"
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviders,
		CheckDestroy:             e.checkAWSGone("noderoll-imaged"),
		Steps: []resource.TestStep{
			{
				Config: cfg(),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(al, "id", amiAL2),
					resource.TestCheckResourceAttr(al, "name", "al2023-ami-2023.6.20250308-kernel-6.1-x86_64"),
					resource.TestCheckResourceAttr(al, "created", "2025-03-08T00:00:00Z"),
					resource.TestCheckResourceAttr("data.noderoll_image.golden", "id", amiTagged),
					resource.TestCheckResourceAttr("data.noderoll_image.latest", "id", amiAL1),
					resource.TestCheckResourceAttr("data.noderoll_image.latest", "name", "al2023-ami-2023.6.20250301-kernel-6.1-x86_64"),
					resource.TestCheckResourceAttr(res, "image", amiAL2),
					e.checkGroup("noderoll-imaged", 2, amiAL2, nil),
				),
			},
			{
				// A newer AMI is published, and the parameter moves to it:
				// the plan shows the roll for review.
				PreConfig: func() {
					e.cloud.AddImage(al2023(amiAL3, day.AddDate(0, 0, 14)))
					e.cloud.SetParameter(al2023Param, amiAL3)
				},
				Config:             cfg(),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(res, tfjsonpath.New("image"), knownvalue.StringExact(amiAL3)),
					planValue("action", knownvalue.StringExact("roll")),
					planValue("summary", knownvalue.StringRegexp(regexp.MustCompile(`^roll 2 node\(s\) from image=`+amiAL2+` machine_type=t3.small to image=`+amiAL3))),
					plancheck.ExpectKnownOutputValue("latest", knownvalue.StringExact(amiAL3)),
				}},
			},
			{
				Config: cfg(),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(res, "image", amiAL3),
					e.checkGroup("noderoll-imaged", 2, amiAL3, nil),
				),
			},
		},
	})
}

// TestAccImage_invalidConfigs: each bad noderoll_image is rejected before any
// API call, naming the attribute, the bad value and what is valid; an image
// that matches nothing says so.
func TestAccImage_invalidConfigs(t *testing.T) {
	e := newAWSEnv(t, 39314, fake.Options{})
	cases := []struct{ name, body, want string }{
		{"no cloud block", ``, `Block aws must have a configuration value`},
		{"no owners", `aws { name = "al2023-*" }`, "aws.owners is required unless aws.ssm_parameter is set"},
		{"owners without name or tags", `aws { owners = ["amazon"] }`, "aws.name or aws.tags is required with aws.owners"},
		{"bad owner", `aws {
    owners = ["Amazon Inc"]
    name   = "al2023-*"
  }`, `aws.owners[0] = "Amazon Inc" is invalid: want an AWS account ID (12 digits) or "self"`},
		{"parameter with owners", `aws {
    ssm_parameter = "/aws/service/x"
    owners        = ["amazon"]
  }`, `aws.owners is set together with aws.ssm_parameter = "/aws/service/x"`},
		{"bad parameter", `aws { ssm_parameter = "not a parameter" }`, `aws.ssm_parameter = "not a parameter" is invalid: want an SSM parameter name`},
		{"bad region", `aws {
    region        = "Europe"
    ssm_parameter = "/aws/service/x"
  }`, `aws.region = "Europe" is invalid: want an AWS Region code such as "eu-west-1"`},
		{"no match", `aws {
    owners = ["amazon"]
    name   = "nothing-*"
  }`, `No Matching Image`},
		{"missing parameter", `aws { ssm_parameter = "/aws/service/missing" }`, `No Matching Image`},
	}
	var steps []resource.TestStep
	for _, c := range cases {
		steps = append(steps, resource.TestStep{
			PreConfig:   func() { t.Logf("case %q", c.name) },
			Config:      e.providerHCL() + fmt.Sprintf("data \"noderoll_image\" \"x\" {\n  %s\n}\n", c.body),
			PlanOnly:    true,
			ExpectError: errText(c.want),
		})
	}
	resource.ParallelTest(t, resource.TestCase{ProtoV6ProviderFactories: testAccProviders, Steps: steps})
	if n := e.cloud.Calls()["DescribeImages"]; n != 1 {
		t.Errorf("DescribeImages was called %d times, want once (only the valid query that matches nothing)", n)
	}
}
