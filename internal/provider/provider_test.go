package provider

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	fwdatasource "github.com/hashicorp/terraform-plugin-framework/datasource"
	dschema "github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	fwprovider "github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	fwresource "github.com/hashicorp/terraform-plugin-framework/resource"
	rschema "github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
)

// terraformPath is the Terraform CLI the acceptance tests run unless
// TF_ACC_TERRAFORM_PATH names another: where scripts/ensure-terraform.sh
// builds it from source. Nothing is ever downloaded.
func terraformPath() string {
	tools := os.Getenv("NODEROLL_TOOLS")
	if tools == "" {
		home, _ := os.UserHomeDir()
		tools = filepath.Join(home, ".cache", "noderoll-tools")
	}
	return filepath.Join(tools, "terraform-1.5.7", "terraform")
}

// Built once in TestMain for the acceptance tests.
var (
	testAppPath      string // the demo app every node runs
	testProviderDir  string // a directory holding terraform-provider-noderoll, for dev_overrides
	testTerraformBin string
)

var testAccProviders = map[string]func() (tfprotov6.ProviderServer, error){
	"noderoll": providerserver.NewProtocol6WithError(New("test")()),
}

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	if os.Getenv("TF_ACC") == "" {
		return m.Run()
	}
	if os.Getenv("TF_ACC_TERRAFORM_PATH") == "" {
		os.Setenv("TF_ACC_TERRAFORM_PATH", terraformPath())
	}
	testTerraformBin = os.Getenv("TF_ACC_TERRAFORM_PATH")
	if _, err := os.Stat(testTerraformBin); err != nil {
		fmt.Fprintf(os.Stderr, "acceptance tests need Terraform at %s (run scripts/ensure-terraform.sh, or set TF_ACC_TERRAFORM_PATH): %v\n", testTerraformBin, err)
		return 1
	}
	// Terraform asks checkpoint servers for news unless told not to.
	os.Setenv("CHECKPOINT_DISABLE", "1")
	dir, err := os.MkdirTemp("", "noderoll-acc-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	// The AWS tests talk to a fake in this process. The SDK's default chain
	// finds these static credentials first; no shared configuration, profile
	// or role of the machine's, and never the instance metadata service.
	for _, k := range []string{"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
		"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"} {
		os.Unsetenv(k)
	}
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":           testAccessKey,
		"AWS_SECRET_ACCESS_KEY":       testSecretKey,
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_CONFIG_FILE":             filepath.Join(dir, "no-aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "no-aws-credentials"),
	} {
		os.Setenv(k, v)
	}
	testAppPath = filepath.Join(dir, "app")
	testProviderDir = filepath.Join(dir, "provider")
	for _, b := range []struct{ out, pkg string }{
		{testAppPath, "../../examples/local/app"},
		{filepath.Join(testProviderDir, "terraform-provider-noderoll"), "../.."},
	} {
		cmd := exec.Command("go", "build", "-o", b.out, b.pkg)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n", b.pkg, err)
			return 1
		}
	}
	return m.Run()
}

// TestSchemasDescribeEveryAttribute keeps the generated docs complete.
func TestSchemasDescribeEveryAttribute(t *testing.T) {
	ctx := context.Background()
	p := New("test")()
	var presp fwprovider.SchemaResponse
	p.Schema(ctx, fwprovider.SchemaRequest{}, &presp)
	if presp.Diagnostics.HasError() {
		t.Fatal(presp.Diagnostics)
	}
	if presp.Schema.MarkdownDescription == "" {
		t.Error("provider: no MarkdownDescription")
	}
	for name, a := range presp.Schema.Attributes {
		if a.GetMarkdownDescription() == "" {
			t.Errorf("provider attribute %s: no MarkdownDescription", name)
		}
	}
	for name, b := range presp.Schema.Blocks {
		if b.GetMarkdownDescription() == "" {
			t.Errorf("provider block %s: no MarkdownDescription", name)
		}
	}

	var rresp fwresource.SchemaResponse
	NewNodePoolResource().Schema(ctx, fwresource.SchemaRequest{}, &rresp)
	if rresp.Diagnostics.HasError() {
		t.Fatal(rresp.Diagnostics)
	}
	if d := rresp.Schema.ValidateImplementation(ctx); d.HasError() {
		t.Fatal(d)
	}
	checkAttrs(t, "noderoll_node_pool", rresp.Schema.Attributes)
	checkBlocks(t, "noderoll_node_pool", rresp.Schema.Blocks)
}

func checkAttrs(t *testing.T, at string, attrs map[string]rschema.Attribute) {
	for name, a := range attrs {
		if a.GetMarkdownDescription() == "" {
			t.Errorf("%s.%s: no MarkdownDescription", at, name)
		}
		switch n := a.(type) {
		case rschema.SingleNestedAttribute:
			checkAttrs(t, at+"."+name, n.Attributes)
		case rschema.ListNestedAttribute:
			checkAttrs(t, at+"."+name, n.NestedObject.Attributes)
		}
	}
}

func checkBlocks(t *testing.T, at string, blocks map[string]rschema.Block) {
	for name, b := range blocks {
		if b.GetMarkdownDescription() == "" {
			t.Errorf("%s.%s: no MarkdownDescription", at, name)
		}
		if n, ok := b.(rschema.SingleNestedBlock); ok {
			checkAttrs(t, at+"."+name, n.Attributes)
			checkBlocks(t, at+"."+name, n.Blocks)
		}
	}
}

// TestDataSourceSchemaDescribed keeps noderoll_image's docs complete.
func TestDataSourceSchemaDescribed(t *testing.T) {
	var resp fwdatasource.SchemaResponse
	NewImageDataSource().Schema(context.Background(), fwdatasource.SchemaRequest{}, &resp)
	if resp.Diagnostics.HasError() {
		t.Fatal(resp.Diagnostics)
	}
	if resp.Schema.MarkdownDescription == "" {
		t.Error("noderoll_image: no MarkdownDescription")
	}
	for name, a := range resp.Schema.Attributes {
		if a.GetMarkdownDescription() == "" {
			t.Errorf("noderoll_image.%s: no MarkdownDescription", name)
		}
	}
	for name, b := range resp.Schema.Blocks {
		if b.GetMarkdownDescription() == "" {
			t.Errorf("noderoll_image.%s: no MarkdownDescription", name)
		}
		for an, a := range b.(dschema.SingleNestedBlock).Attributes {
			if a.GetMarkdownDescription() == "" {
				t.Errorf("noderoll_image.%s.%s: no MarkdownDescription", name, an)
			}
		}
	}
}

// TestDocsCarryTheIAMPolicy: the resource docs show the backend's
// least-privilege policy, word for word, so the two cannot drift apart.
func TestDocsCarryTheIAMPolicy(t *testing.T) {
	policy := func(file string) string {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		i := strings.Index(s, "```json\n")
		if i < 0 {
			t.Fatalf("%s has no JSON policy", file)
		}
		s = s[i+len("```json\n"):]
		return s[:strings.Index(s, "```")]
	}
	want := policy("../../providers/asg/IAM.md")
	for _, f := range []string{"../../templates/resources/node_pool.md.tmpl", "../../docs/resources/node_pool.md"} {
		if got := policy(f); got != want {
			t.Errorf("%s: the IAM policy differs from providers/asg/IAM.md's:\n%s", f, got)
		}
	}
}

func TestProviderAWSOptions(t *testing.T) {
	m := providerAWSASGModel{
		Region: types.StringValue("eu-west-1"), Profile: types.StringNull(), RequestsPerSecond: types.Int64Value(5),
		AssumeRole: &providerAssumeRoleModel{RoleARN: types.StringValue("arn:aws:iam::123456789012:role/noderoll")},
		Endpoints:  &providerEndpointsModel{EC2: types.StringValue("http://127.0.0.1:1"), AutoScaling: types.StringNull(), SSM: types.StringNull()},
	}
	o, d := m.options()
	if d.HasError() {
		t.Fatal(d)
	}
	if o.Region != "eu-west-1" || o.AssumeRoleARN != "arn:aws:iam::123456789012:role/noderoll" || o.Endpoints.EC2 != "http://127.0.0.1:1" ||
		o.Endpoints.AutoScaling != "" || o.Limiter == nil {
		t.Errorf("options = %+v", o)
	}
	m.RequestsPerSecond = types.Int64Null()
	m.Region = types.StringUnknown()
	o, d = m.options()
	if o.Limiter != nil {
		t.Error("a limiter without requests_per_second")
	}
	if !d.HasError() || !strings.Contains(d.Errors()[0].Detail(), "aws_asg.region must be known") {
		t.Errorf("unknown region: %v", d)
	}
}
