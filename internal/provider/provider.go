// Package provider is noderoll's Terraform glue: schemas, models, validators,
// the plan preview and CRUD. Domain logic lives in rollout/ and providers/;
// this package only converts Terraform values to and from their types.
package provider

import (
	"context"
	"os"
	"path/filepath"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
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

// providerModel is the provider block. Only local is used by this build; the
// cloud blocks are accepted so configurations can be written for the backends
// that later builds add.
type providerModel struct {
	AWSASG    *providerAWSASGModel    `tfsdk:"aws_asg"`
	GCEMIG    *providerGCEMIGModel    `tfsdk:"gce_mig"`
	AzureVMSS *providerAzureVMSSModel `tfsdk:"azure_vmss"`
	Local     *providerLocalModel     `tfsdk:"local"`
}

type providerAWSASGModel struct {
	Region     types.String             `tfsdk:"region"`
	Profile    types.String             `tfsdk:"profile"`
	AssumeRole *providerAssumeRoleModel `tfsdk:"assume_role"`
	Endpoints  *providerEndpointsModel  `tfsdk:"endpoints"`
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
			"This build runs pools on the `local` backend (nodes are processes on this machine); the cloud blocks " +
			"are accepted so configurations can already name their settings.",
		Blocks: map[string]schema.Block{
			"aws_asg": schema.SingleNestedBlock{
				MarkdownDescription: "Settings for pools in EC2 Auto Scaling groups. Not supported yet by this provider build.",
				Attributes: map[string]schema.Attribute{
					"region":  schema.StringAttribute{Optional: true, MarkdownDescription: "AWS region, such as `eu-west-1`."},
					"profile": schema.StringAttribute{Optional: true, MarkdownDescription: "Named profile from the shared AWS configuration files."},
				},
				Blocks: map[string]schema.Block{
					"assume_role": schema.SingleNestedBlock{
						MarkdownDescription: "Role to assume before calling AWS.",
						Attributes: map[string]schema.Attribute{
							"role_arn": schema.StringAttribute{Optional: true, MarkdownDescription: "ARN of the role to assume."},
						},
					},
					"endpoints": schema.SingleNestedBlock{
						MarkdownDescription: "Custom service endpoints, for testing against fakes or private endpoints.",
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
	resp.ResourceData = data
	resp.DataSourceData = data
}

func (p *noderollProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{NewNodePoolResource}
}

func (p *noderollProvider) DataSources(context.Context) []func() datasource.DataSource {
	return nil
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
