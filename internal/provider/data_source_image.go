package provider

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/objectvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/noderoll/terraform-provider-noderoll/providers/asg"
	"github.com/noderoll/terraform-provider-noderoll/rollout"
)

var (
	_ datasource.DataSource                   = (*imageDataSource)(nil)
	_ datasource.DataSourceWithConfigure      = (*imageDataSource)(nil)
	_ datasource.DataSourceWithValidateConfig = (*imageDataSource)(nil)
)

// NewImageDataSource returns the noderoll_image data source.
func NewImageDataSource() datasource.DataSource { return &imageDataSource{} }

type imageDataSource struct {
	data *providerData
}

// imageModel is noderoll_image. Each cloud is a block, so other clouds can
// be added beside aws without changing what a configuration reads.
type imageModel struct {
	ID      types.String   `tfsdk:"id"`
	Name    types.String   `tfsdk:"name"`
	Created types.String   `tfsdk:"created"`
	AWS     *imageAWSModel `tfsdk:"aws"`
}

type imageAWSModel struct {
	Region       types.String `tfsdk:"region"`
	Owners       types.List   `tfsdk:"owners"`
	Name         types.String `tfsdk:"name"`
	Tags         types.Map    `tfsdk:"tags"`
	SSMParameter types.String `tfsdk:"ssm_parameter"`
}

func (d *imageDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_image"
}

func (d *imageDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Looks up an OS image and returns its immutable ID, for a pool's `image`. Pin the ID, not a " +
			"moving alias: when a newer image is published, the next plan reads the new ID and shows the pool's rollout " +
			"as a diff, for review, instead of nodes changing silently. Exactly one cloud block is required; this build " +
			"supports `aws`.",
		Attributes: map[string]schema.Attribute{
			"id":      schema.StringAttribute{Computed: true, MarkdownDescription: "The image's immutable ID, such as `ami-0123456789abcdef0`."},
			"name":    schema.StringAttribute{Computed: true, MarkdownDescription: "The image's name."},
			"created": schema.StringAttribute{Computed: true, MarkdownDescription: "When the image was created, RFC 3339."},
		},
		Blocks: map[string]schema.Block{
			"aws": schema.SingleNestedBlock{
				MarkdownDescription: "Find an AMI, with the provider's `aws_asg` connection settings: either the newest " +
					"available image matching `owners`, `name` and `tags` (by creation date), or the AMI ID an SSM " +
					"parameter holds, such as the Amazon Linux latest-AMI public parameters. Needs `ec2:DescribeImages` " +
					"(and `ssm:GetParameter` for `ssm_parameter`).",
				Validators: []validator.Object{objectvalidator.IsRequired()},
				Attributes: map[string]schema.Attribute{
					"region": schema.StringAttribute{
						Optional:            true,
						MarkdownDescription: "AWS Region to search, overriding the provider's `aws_asg.region`. AMI IDs differ per Region: use the pool's.",
						Validators:          []validator.String{regexCheck(awsRegionRE, awsRegionWant)},
					},
					"owners": schema.ListAttribute{
						ElementType: types.StringType,
						Optional:    true,
						MarkdownDescription: "Accounts whose images may match: account IDs or `self`, `amazon`, `aws-marketplace`. " +
							"Required unless `ssm_parameter` is set, so that no stranger's public image can match.",
						Validators: []validator.List{listvalidator.SizeAtLeast(1),
							listvalidator.ValueStringsAre(regexCheck(imageOwnerRE, imageOwnerWant))},
					},
					"name": schema.StringAttribute{
						Optional:            true,
						MarkdownDescription: "Image name pattern: `*` matches any run of characters, `?` one, such as `\"al2023-ami-2023.*-kernel-6.1-x86_64\"`.",
						Validators:          []validator.String{nonBlank()},
					},
					"tags": schema.MapAttribute{
						ElementType:         types.StringType,
						Optional:            true,
						MarkdownDescription: "Tags the image must carry, with exactly these values.",
						Validators:          []validator.Map{mapvalidator.SizeAtLeast(1)},
					},
					"ssm_parameter": schema.StringAttribute{
						Optional: true,
						MarkdownDescription: "An SSM parameter holding an AMI ID, such as " +
							"`\"/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64\"`. Conflicts with `owners`, `name` and `tags`.",
						Validators: []validator.String{regexCheck(ssmParameterRE, ssmParameterWant)},
					},
				},
			},
		},
	}
}

func (d *imageDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	if req.ProviderData == nil {
		return
	}
	data, ok := req.ProviderData.(*providerData)
	if !ok {
		resp.Diagnostics.AddError("Unexpected Provider Data",
			fmt.Sprintf("The noderoll provider handed the image data source %T instead of its own configuration. This is a bug in the provider: please report it.", req.ProviderData))
		return
	}
	d.data = data
}

// ValidateConfig enforces the two ways to select an AMI.
func (d *imageDataSource) ValidateConfig(ctx context.Context, req datasource.ValidateConfigRequest, resp *datasource.ValidateConfigResponse) {
	var m imageModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() || m.AWS == nil {
		return
	}
	a := m.AWS
	at := path.Root("aws")
	if !a.SSMParameter.IsNull() {
		for _, o := range []struct {
			name string
			set  bool
		}{{"owners", !a.Owners.IsNull()}, {"name", !a.Name.IsNull()}, {"tags", !a.Tags.IsNull()}} {
			if o.set {
				resp.Diagnostics.AddAttributeError(at.AtName(o.name), "Conflicting Attributes",
					fmt.Sprintf("aws.%s is set together with aws.ssm_parameter = %s: want either ssm_parameter alone, or owners with name and/or tags.", o.name, a.SSMParameter))
			}
		}
		return
	}
	if a.Owners.IsNull() {
		resp.Diagnostics.AddAttributeError(at.AtName("owners"), "Missing Required Attribute",
			"aws.owners is required unless aws.ssm_parameter is set: the accounts whose images may match, such as [\"amazon\"] or [\"self\"]; "+
				"without owners anyone's public image could match.")
	}
	if a.Name.IsNull() && a.Tags.IsNull() {
		resp.Diagnostics.AddAttributeError(at.AtName("name"), "Missing Required Attribute",
			"aws.name or aws.tags is required with aws.owners: a name pattern such as \"al2023-ami-2023.*-x86_64\", or the tags the image carries.")
	}
}

func (d *imageDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m imageModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if d.data == nil || m.AWS == nil {
		resp.Diagnostics.AddError("Provider Not Configured", "The noderoll provider was not configured before noderoll_image was read, or the aws block is missing.")
		return
	}
	a := m.AWS
	o := d.data.AWS
	if !a.Region.IsNull() {
		o.Region = a.Region.ValueString()
	}
	q := asg.ImageQuery{NameFilter: a.Name.ValueString(), SSMParameter: a.SSMParameter.ValueString()}
	if !a.Owners.IsNull() {
		resp.Diagnostics.Append(a.Owners.ElementsAs(ctx, &q.Owners, false)...)
	}
	if !a.Tags.IsNull() {
		resp.Diagnostics.Append(a.Tags.ElementsAs(ctx, &q.Tags, false)...)
	}
	if resp.Diagnostics.HasError() {
		return
	}
	r, err := asg.NewImageResolver(ctx, o)
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("aws"), "Invalid AWS Settings", "Could not set up the AWS clients: "+err.Error())
		return
	}
	img, err := r.ResolveImage(ctx, q)
	if err != nil {
		switch r.ErrorCode(err) {
		case rollout.NotFound:
			resp.Diagnostics.AddAttributeError(path.Root("aws"), "No Matching Image",
				fmt.Sprintf("No available AMI matches %s: %v. Check the owners, the name pattern (* and ? wildcards), the tags, the parameter name and the Region.", describeQuery(q), err))
		default:
			resp.Diagnostics.AddAttributeError(path.Root("aws"), "Could Not Look Up Image",
				fmt.Sprintf("Looking up the AMI for %s failed: %v. Check the credentials (the SDK's default chain), the Region and the IAM permissions ec2:DescribeImages and ssm:GetParameter.", describeQuery(q), err))
		}
		return
	}
	m.ID = types.StringValue(img.ID)
	m.Name = types.StringValue(img.Name)
	m.Created = types.StringNull()
	if !img.CreationDate.IsZero() {
		m.Created = types.StringValue(img.CreationDate.UTC().Format(time.RFC3339))
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func describeQuery(q asg.ImageQuery) string {
	if q.SSMParameter != "" {
		return "SSM parameter " + q.SSMParameter
	}
	return fmt.Sprintf("owners %v, name %q, tags %v", q.Owners, q.NameFilter, q.Tags)
}
