// Package provider is noderoll's Terraform glue: schemas, models, validators,
// the plan preview and CRUD. Domain logic lives in rollout/ and providers/;
// this package only converts Terraform values to and from their types.
package provider

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/noderoll/terraform-provider-noderoll/providers/asg"
)

var _ provider.Provider = (*noderollProvider)(nil)

// New returns a constructor for the provider at the given version, as
// providerserver.Serve and the acceptance tests' factories want it.
func New(version string) func() provider.Provider {
	return func() provider.Provider { return &noderollProvider{version: version} }
}

type noderollProvider struct {
	version string
}

// providerModel is the provider block. local and aws_asg are used by this
// build; gce_mig and azure_vmss are accepted so configurations can be written
// for the backends that later builds add.
type providerModel struct {
	AWSASG    *providerAWSASGModel    `tfsdk:"aws_asg"`
	GCEMIG    *providerGCEMIGModel    `tfsdk:"gce_mig"`
	AzureVMSS *providerAzureVMSSModel `tfsdk:"azure_vmss"`
	Local     *providerLocalModel     `tfsdk:"local"`
}

type providerAWSASGModel struct {
	Region            types.String             `tfsdk:"region"`
	Profile           types.String             `tfsdk:"profile"`
	RequestsPerSecond types.Int64              `tfsdk:"requests_per_second"`
	AssumeRole        *providerAssumeRoleModel `tfsdk:"assume_role"`
	Endpoints         *providerEndpointsModel  `tfsdk:"endpoints"`
}

type providerAssumeRoleModel struct {
	RoleARN types.String `tfsdk:"role_arn"`
}

type providerEndpointsModel struct {
	EC2         types.String `tfsdk:"ec2"`
	AutoScaling types.String `tfsdk:"autoscaling"`
	SSM         types.String `tfsdk:"ssm"`
}

type providerGCEMIGModel struct {
	Project types.String `tfsdk:"project"`
}

type providerAzureVMSSModel struct {
	SubscriptionID types.String `tfsdk:"subscription_id"`
}

type providerLocalModel struct {
	StateDir types.String `tfsdk:"state_dir"`
}

// providerData is what Configure hands to resources.
type providerData struct {
	// LocalStateDir is where local pools keep their state unless a resource
	// overrides it. Absolute, so it does not move with the working directory.
	LocalStateDir string
	// AWS holds the connection settings of the provider's aws_asg block
	// (region, profile, role, endpoints). Credentials are never part of it:
	// the SDK's default chain supplies them on every use.
	AWS asg.Options
}

// defaultLocalStateDir is used when neither the provider nor the resource
// names a state directory: beside the configuration, like terraform.tfstate.
const defaultLocalStateDir = ".noderoll"

func (p *noderollProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "noderoll"
	resp.Version = p.version
}

func (p *noderollProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	url := []validator.String{httpURL()}
	resp.Schema = schema.Schema{
		MarkdownDescription: "noderoll rolls node pools to a new OS image or machine type with surge-and-drain " +
			"replacement, health gating and automatic rollback. Each block configures one backend; all are optional. " +
			"This build runs pools on the `local` backend (nodes are processes on this machine) and on EC2 Auto Scaling " +
			"(`aws_asg`); the `gce_mig` and `azure_vmss` blocks are accepted so configurations can already name their settings.",
		Blocks: map[string]schema.Block{
			"aws_asg": schema.SingleNestedBlock{
				MarkdownDescription: "Settings for pools in EC2 Auto Scaling groups and for `noderoll_image` lookups on AWS. " +
					"Credentials come from the AWS SDK's default chain (environment variables, shared configuration and " +
					"`profile`, SSO, web identity, container and instance roles), never from configuration, and are never stored in state.",
				Attributes: map[string]schema.Attribute{
					"region": schema.StringAttribute{
						Optional:            true,
						Validators:          []validator.String{regexCheck(awsRegionRE, awsRegionWant)},
						MarkdownDescription: "AWS Region, such as `eu-west-1`. Default: the SDK's default chain (`AWS_REGION`, the profile's region). A pool's `aws_asg.region` overrides it.",
					},
					"profile": schema.StringAttribute{
						Optional:            true,
						Validators:          []validator.String{nonBlank()},
						MarkdownDescription: "Named profile from the shared AWS configuration files. Default: the SDK's default chain (`AWS_PROFILE`).",
					},
					"requests_per_second": schema.Int64Attribute{
						Optional:   true,
						Validators: []validator.Int64{int64validator.Between(1, 1000)},
						MarkdownDescription: "Pace every AWS API request of this provider's pools and image lookups to at most this many per " +
							"second (bursts of twice as many), so that many pools rolling at once stay under the account's API " +
							"rate limits instead of being throttled. EC2 throttles per account and Region; `10` leaves room for " +
							"everything else in the account. Default: not paced (the SDK's retryer still backs off when throttled).",
					},
				},
				Blocks: map[string]schema.Block{
					"assume_role": schema.SingleNestedBlock{
						MarkdownDescription: "Role to assume (through STS, session name `noderoll`) with the default chain's credentials before calling AWS.",
						Attributes: map[string]schema.Attribute{
							"role_arn": schema.StringAttribute{
								Optional:            true,
								Validators:          []validator.String{regexCheck(roleARNRE, roleARNWant)},
								MarkdownDescription: "ARN of the role to assume. Required in an `assume_role` block.",
							},
						},
					},
					"endpoints": schema.SingleNestedBlock{
						MarkdownDescription: "Custom service endpoints (VPC or FIPS endpoints, or a fake for testing). Unset services use the SDK's endpoint for the Region.",
						Attributes: map[string]schema.Attribute{
							"ec2":         schema.StringAttribute{Optional: true, Validators: url, MarkdownDescription: "EC2 API endpoint URL."},
							"autoscaling": schema.StringAttribute{Optional: true, Validators: url, MarkdownDescription: "Auto Scaling API endpoint URL."},
							"ssm":         schema.StringAttribute{Optional: true, Validators: url, MarkdownDescription: "SSM API endpoint URL."},
						},
					},
				},
			},
			"gce_mig": schema.SingleNestedBlock{
				MarkdownDescription: "Settings for pools in Google Compute Engine managed instance groups. Credentials come " +
					"from the environment (Application Default Credentials), never from configuration. Not supported yet by this provider build.",
				Attributes: map[string]schema.Attribute{
					"project": schema.StringAttribute{Optional: true, MarkdownDescription: "Google Cloud project ID."},
				},
			},
			"azure_vmss": schema.SingleNestedBlock{
				MarkdownDescription: "Settings for pools in Azure virtual machine scale sets. Not supported yet by this provider build.",
				Attributes: map[string]schema.Attribute{
					"subscription_id": schema.StringAttribute{Optional: true, MarkdownDescription: "Azure subscription ID."},
				},
			},
			"local": schema.SingleNestedBlock{
				MarkdownDescription: "Settings for pools on the `local` backend, where each node is a process on this machine " +
					"listening on its own loopback address.",
				Attributes: map[string]schema.Attribute{
					"state_dir": schema.StringAttribute{
						Optional:   true,
						Validators: []validator.String{nonBlank()},
						MarkdownDescription: "Directory where local pools record their nodes. Relative paths are resolved " +
							"against Terraform's working directory. Defaults to `" + defaultLocalStateDir + "`.",
					},
				},
			},
		},
	}
}

func (p *noderollProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var cfg providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	dir := defaultLocalStateDir
	if cfg.Local != nil && !cfg.Local.StateDir.IsNull() {
		if cfg.Local.StateDir.IsUnknown() {
			resp.Diagnostics.AddAttributeError(path.Root("local").AtName("state_dir"), "Unknown Local State Directory",
				"local.state_dir must be known when the provider is configured: use a literal or a variable, not an attribute of a resource that does not exist yet.")
			return
		}
		dir = cfg.Local.StateDir.ValueString()
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("local").AtName("state_dir"), "Invalid Local State Directory",
			"Could not resolve local.state_dir "+dir+" to an absolute path: "+err.Error())
		return
	}
	data := &providerData{LocalStateDir: abs}
	if a := cfg.AWSASG; a != nil {
		o, d := a.options()
		resp.Diagnostics.Append(d...)
		if resp.Diagnostics.HasError() {
			return
		}
		data.AWS = o
	}
	resp.ResourceData = data
	resp.DataSourceData = data
}

func (p *noderollProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{NewNodePoolResource}
}

func (p *noderollProvider) DataSources(context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{NewImageDataSource}
}

// options converts the provider's aws_asg block to the connection fields of
// asg.Options. Values must be known: the provider is configured once.
func (a *providerAWSASGModel) options() (asg.Options, diag.Diagnostics) {
	var diags diag.Diagnostics
	var o asg.Options
	at := path.Root("aws_asg")
	set := func(dst *string, v types.String, p path.Path) {
		if v.IsUnknown() {
			diags.AddAttributeError(p, "Unknown Provider Setting",
				p.String()+" must be known when the provider is configured: use a literal or a variable, not an attribute of a resource that does not exist yet.")
			return
		}
		*dst = v.ValueString()
	}
	set(&o.Region, a.Region, at.AtName("region"))
	switch v := a.RequestsPerSecond; {
	case v.IsUnknown():
		diags.AddAttributeError(at.AtName("requests_per_second"), "Unknown Provider Setting",
			"aws_asg.requests_per_second must be known when the provider is configured.")
	case !v.IsNull():
		// One limiter for every pool of this provider: they share the account's buckets.
		l, err := asg.NewRequestLimiter(float64(v.ValueInt64()), 2*int(v.ValueInt64()))
		if err != nil {
			diags.AddAttributeError(at.AtName("requests_per_second"), "Invalid Attribute Value",
				fmt.Sprintf("aws_asg.requests_per_second = %d is invalid: %v.", v.ValueInt64(), err))
		}
		o.Limiter = l
	}
	set(&o.Profile, a.Profile, at.AtName("profile"))
	if r := a.AssumeRole; r != nil {
		if r.RoleARN.IsNull() {
			diags.AddAttributeError(at.AtName("assume_role").AtName("role_arn"), "Missing Required Attribute",
				"aws_asg.assume_role.role_arn is required in an assume_role block: "+roleARNWant+".")
		}
		set(&o.AssumeRoleARN, r.RoleARN, at.AtName("assume_role").AtName("role_arn"))
	}
	if e := a.Endpoints; e != nil {
		ep := at.AtName("endpoints")
		set(&o.Endpoints.EC2, e.EC2, ep.AtName("ec2"))
		set(&o.Endpoints.AutoScaling, e.AutoScaling, ep.AtName("autoscaling"))
		set(&o.Endpoints.SSM, e.SSM, ep.AtName("ssm"))
	}
	return o, diags
}

// absDir resolves a directory the way Configure does.
func absDir(dir string) (string, error) {
	if dir == "" {
		dir = defaultLocalStateDir
	}
	if filepath.IsAbs(dir) {
		return filepath.Clean(dir), nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	return filepath.Join(wd, dir), nil
}
