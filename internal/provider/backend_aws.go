package provider

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/boolplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/listplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/noderoll/terraform-provider-noderoll/providers/asg"
	"github.com/noderoll/terraform-provider-noderoll/rollout"
	"github.com/noderoll/terraform-provider-noderoll/rollout/health"
)

// awsBootEstimate: an EC2 instance typically boots and starts serving within
// a minute and a half; the preview uses it until a rollout measured one.
const awsBootEstimate = 90 * time.Second

// awsImportPrefix starts an import ID that adopts an Auto Scaling group.
const awsImportPrefix = "aws_asg:"

// defaultGroupName is the group a pool without group_name lives in; it is
// the asg backend's own default.
func defaultGroupName(pool string) string { return "noderoll-" + pool }

// imported reports whether the state is of a pool that was imported and not
// applied since: it has no last_rollout yet. Create-time settings are then
// only recorded, since the group was made with settings of its own.
func imported(ctx context.Context, st tfsdk.State) bool {
	if st.Raw.IsNull() {
		return false
	}
	var last types.Object
	if d := st.GetAttribute(ctx, path.Root("last_rollout"), &last); d.HasError() {
		return false
	}
	return last.IsNull()
}

const replaceUnlessImportedDesc = "Changing it replaces the pool, except on an imported pool not applied since, where it is only recorded."

func replaceUnlessImportedString() planmodifier.String {
	return stringplanmodifier.RequiresReplaceIf(func(ctx context.Context, req planmodifier.StringRequest, resp *stringplanmodifier.RequiresReplaceIfFuncResponse) {
		resp.RequiresReplace = !imported(ctx, req.State)
	}, replaceUnlessImportedDesc, replaceUnlessImportedDesc)
}

func replaceUnlessImportedList() planmodifier.List {
	return listplanmodifier.RequiresReplaceIf(func(ctx context.Context, req planmodifier.ListRequest, resp *listplanmodifier.RequiresReplaceIfFuncResponse) {
		resp.RequiresReplace = !imported(ctx, req.State)
	}, replaceUnlessImportedDesc, replaceUnlessImportedDesc)
}

func replaceUnlessImportedBool() planmodifier.Bool {
	return boolplanmodifier.RequiresReplaceIf(func(ctx context.Context, req planmodifier.BoolRequest, resp *boolplanmodifier.RequiresReplaceIfFuncResponse) {
		resp.RequiresReplace = !imported(ctx, req.State)
	}, replaceUnlessImportedDesc, replaceUnlessImportedDesc)
}

func replaceUnlessImportedInt64() planmodifier.Int64 {
	return int64planmodifier.RequiresReplaceIf(func(ctx context.Context, req planmodifier.Int64Request, resp *int64planmodifier.RequiresReplaceIfFuncResponse) {
		resp.RequiresReplace = !imported(ctx, req.State)
	}, replaceUnlessImportedDesc, replaceUnlessImportedDesc)
}

// awsOptions converts the pool's aws_asg block, on top of the provider's
// connection settings, to the backend's Options.
func (m *nodePoolModel) awsOptions(ctx context.Context, conn asg.Options) (asg.Options, diag.Diagnostics) {
	var diags diag.Diagnostics
	a := m.AWSASG
	o := conn
	o.PoolName = m.Name.ValueString()
	str := func(v types.String) string {
		if v.IsNull() || v.IsUnknown() {
			return ""
		}
		return v.ValueString()
	}
	if r := str(a.Region); r != "" {
		o.Region = r
	}
	o.GroupName = str(a.GroupName)
	o.LaunchTemplateID = str(a.LaunchTemplateID)
	o.LaunchTemplateName = str(a.LaunchTemplateName)
	if !a.SubnetIDs.IsNull() && !a.SubnetIDs.IsUnknown() {
		diags.Append(a.SubnetIDs.ElementsAs(ctx, &o.SubnetIDs, false)...)
	}
	if !a.TargetGroupARNs.IsNull() && !a.TargetGroupARNs.IsUnknown() {
		diags.Append(a.TargetGroupARNs.ElementsAs(ctx, &o.TargetGroupARNs, false)...)
	}
	o.UseELBHealth = a.UseELBHealth.ValueBool()
	setDuration(&o.HealthCheckGracePeriod, a.HealthCheckGracePeriod)
	o.MinSize = int(a.MinSize.ValueInt64())
	o.MaxSize = int(a.MaxSize.ValueInt64())
	return o, diags
}

// awsBackend builds the aws_asg backend for m. A run (forRun) needs the base
// launch template; observing the group does not.
func (r *nodePoolResource) awsBackend(ctx context.Context, m *nodePoolModel, forRun bool) (*backend, diag.Diagnostics) {
	o, diags := m.awsOptions(ctx, r.data.AWS)
	if diags.HasError() {
		return nil, diags
	}
	at := path.Root("aws_asg")
	if o.LaunchTemplateID == "" && o.LaunchTemplateName == "" {
		if forRun {
			diags.AddAttributeError(at.AtName("launch_template_id"), "Missing Launch Template",
				fmt.Sprintf("Pool %q: aws_asg.launch_template_id or aws_asg.launch_template_name must be known to make launch template versions.", m.Name.ValueString()))
			return nil, diags
		}
		// Describe reads the group's own launch template and never uses
		// the base one; the backend demands one, so name the group's.
		o.LaunchTemplateName = "observe-only"
	}
	d, err := asg.New(ctx, o)
	if err != nil {
		diags.AddAttributeError(at, "Invalid AWS Backend", fmt.Sprintf("Pool %q: %v", m.Name.ValueString(), err))
		return nil, diags
	}
	prober, err := m.prober(proberConfig{cloud: true})
	if _, ok := err.(missingPortError); ok && !forRun {
		// An imported pool has no health_check until its first apply:
		// observe it by the group's health status alone.
		prober, err = m.cloudProber(), nil
	}
	if err != nil {
		diags.Append(proberDiagnostics(prober, err)...)
		return nil, diags
	}
	drainer, err := m.drainer()
	if err != nil {
		diags.Append(engineDrainDiagnostics(err)...)
		return nil, diags
	}
	group := o.GroupName
	if group == "" {
		group = defaultGroupName(o.PoolName)
	}
	id := awsImportPrefix + group
	if o.Region != "" {
		id = awsImportPrefix + o.Region + "/" + group
	}
	return &backend{pool: m.Name.ValueString(), driver: d, prober: prober, drainer: drainer, strategy: m.strategy(),
		importID: id, bootEstimate: awsBootEstimate, group: group, region: o.Region}, diags
}

// cloudProber is the cloud's health verdict, strict when health_check.cloud
// is set: by default only a node the group reports Unhealthy fails.
func (m *nodePoolModel) cloudProber() rollout.Prober {
	return health.CloudHealth{RequireHealthy: m.HealthCheck != nil && m.HealthCheck.Cloud.ValueBool()}
}

// parseAWSImportID splits "aws_asg:[<region>/]<group_name>" and derives the
// pool's name: the group name without its "noderoll-" prefix, as a pool
// without group_name is named, or else the group name itself.
func parseAWSImportID(id string) (region, group, name string, err error) {
	rest := strings.TrimPrefix(strings.TrimSpace(id), awsImportPrefix)
	want := fmt.Errorf("import ID %q: want aws_asg:<group_name> or aws_asg:<region>/<group_name>, such as aws_asg:eu-west-1/noderoll-web", id)
	if r, g, ok := strings.Cut(rest, "/"); ok && awsRegionRE.MatchString(r) {
		region, rest = r, g
	}
	group = rest
	if group == "" || !asgNameRE.MatchString(group) {
		return "", "", "", want
	}
	name = strings.TrimPrefix(group, "noderoll-")
	if !poolNameRE.MatchString(name) {
		name = group
	}
	if !poolNameRE.MatchString(name) {
		return "", "", "", fmt.Errorf("import ID %q: the group name %q does not make a pool name (%s), with or without its \"noderoll-\" prefix; "+
			"rename the group or manage it under another name", id, group, poolNameWant)
	}
	return region, group, name, nil
}

// importAWS adopts an existing Auto Scaling group as it is. The base launch
// template is the one the group's version belongs to; subnets, target groups
// and the other create-time settings stay the group's own and are recorded
// from the configuration at the next apply.
func (r *nodePoolResource) importAWS(ctx context.Context, id string, resp *resource.ImportStateResponse) diag.Diagnostics {
	var diags diag.Diagnostics
	if r.data == nil {
		diags.AddError("Provider Not Configured", "The noderoll provider must be configured to import a pool.")
		return diags
	}
	region, group, name, err := parseAWSImportID(id)
	if err != nil {
		diags.AddError("Invalid Import ID", err.Error())
		return diags
	}
	o := r.data.AWS
	if region != "" {
		o.Region = region
	}
	o.GroupName, o.PoolName, o.LaunchTemplateName = group, name, "observe-only" // Describe never uses the base template
	d, err := asg.New(ctx, o)
	if err != nil {
		diags.AddError("Could Not Import Node Pool", fmt.Sprintf("Group %q: %v", group, err))
		return diags
	}
	pool, err := d.Describe(ctx)
	if err != nil {
		if rollout.CodeOf(d, err) == rollout.NotFound {
			diags.AddError("Node Pool Not Found",
				fmt.Sprintf("There is no Auto Scaling group %q in Region %s: %v. Import by aws_asg:<group_name> or aws_asg:<region>/<group_name>.", group, nameOr(o.Region, "of the default chain"), err))
			return diags
		}
		diags.AddError("Could Not Import Node Pool", fmt.Sprintf("Observing group %q failed: %v", group, err))
		return diags
	}
	lt, _, _ := strings.Cut(pool.Template.ID, ":")
	a := awsASGModel{
		Region:                 types.StringNull(),
		GroupName:              types.StringValue(group),
		LaunchTemplateID:       types.StringNull(),
		LaunchTemplateName:     types.StringNull(),
		SubnetIDs:              types.ListNull(types.StringType),
		TargetGroupARNs:        types.ListNull(types.StringType),
		UseELBHealth:           types.BoolNull(),
		HealthCheckGracePeriod: types.StringNull(),
		MinSize:                types.Int64Null(),
		MaxSize:                types.Int64Null(),
	}
	if o.Region != "" {
		a.Region = types.StringValue(o.Region)
	}
	if lt != "" {
		a.LaunchTemplateID = types.StringValue(lt)
	}
	diags.Append(resp.State.SetAttribute(ctx, path.Root("id"), name)...)
	diags.Append(resp.State.SetAttribute(ctx, path.Root("name"), name)...)
	diags.Append(resp.State.SetAttribute(ctx, path.Root("aws_asg"), a)...)
	return diags
}

// settle fills the computed aws_asg settings a plan left unknown with where
// the pool lives.
func (b *backend) settle(m *nodePoolModel) {
	a := m.AWSASG
	if a == nil {
		return
	}
	if a.GroupName.IsUnknown() {
		a.GroupName = types.StringValue(b.group)
	}
	if a.Region.IsUnknown() {
		a.Region = types.StringNull()
		if b.region != "" {
			a.Region = types.StringValue(b.region)
		}
	}
}

// healthCheckKnown reports whether the health_check settings that choose
// the probe are known.
func (m *nodePoolModel) healthCheckKnown() bool {
	h := m.HealthCheck
	if h == nil {
		return true
	}
	if h.Cloud.IsUnknown() || h.Timeout.IsUnknown() || h.Interval.IsUnknown() {
		return false
	}
	if h.HTTP != nil && (h.HTTP.Port.IsUnknown() || h.HTTP.Path.IsUnknown() || h.HTTP.Scheme.IsUnknown() ||
		h.HTTP.ExpectStatus.IsUnknown() || h.HTTP.BodyContains.IsUnknown() || h.HTTP.CACertPEM.IsUnknown()) {
		return false
	}
	return h.TCP == nil || !h.TCP.Port.IsUnknown()
}

// validateAWS checks what the aws_asg block's attribute validators cannot
// see alone: the launch template choice, and that image and machine_type are
// an AMI and an instance type.
func (m *nodePoolModel) validateAWS() diag.Diagnostics {
	var diags diag.Diagnostics
	a := m.AWSASG
	at := path.Root("aws_asg")
	id, name := !a.LaunchTemplateID.IsNull(), !a.LaunchTemplateName.IsNull()
	switch {
	case id && name:
		diags.AddAttributeError(at.AtName("launch_template_name"), "Conflicting Attributes",
			fmt.Sprintf("aws_asg.launch_template_id and aws_asg.launch_template_name are both set (launch_template_name = %s): "+
				"want exactly one of them, naming the base launch template.", a.LaunchTemplateName))
	case !id && !name:
		diags.AddAttributeError(at.AtName("launch_template_id"), "Missing Required Attribute",
			"aws_asg.launch_template_id or aws_asg.launch_template_name is required: the base launch template, such as "+
				"launch_template_id = aws_launch_template.web.id.")
	}
	if a.UseELBHealth.ValueBool() && a.TargetGroupARNs.IsNull() {
		diags.AddAttributeError(at.AtName("use_elb_health"), "Invalid Attribute Value",
			"aws_asg.use_elb_health = true is invalid without aws_asg.target_group_arns: want the target groups whose health the group should follow.")
	}
	if !a.MinSize.IsNull() && !a.MaxSize.IsNull() && !a.MinSize.IsUnknown() && !a.MaxSize.IsUnknown() && a.MinSize.ValueInt64() > a.MaxSize.ValueInt64() {
		diags.AddAttributeError(at.AtName("min_size"), "Invalid Attribute Value",
			fmt.Sprintf("aws_asg.min_size = %d is invalid: want at most aws_asg.max_size (%d).", a.MinSize.ValueInt64(), a.MaxSize.ValueInt64()))
	}
	if v := m.Image; !v.IsNull() && !v.IsUnknown() && !amiIDRE.MatchString(v.ValueString()) {
		diags.AddAttributeError(path.Root("image"), "Invalid Attribute Value",
			fmt.Sprintf("image = %q is invalid for an aws_asg pool: want %s.", v.ValueString(), amiIDWant))
	}
	if v := m.MachineType; !v.IsNull() && !v.IsUnknown() && !instanceTypeRE.MatchString(v.ValueString()) {
		diags.AddAttributeError(path.Root("machine_type"), "Invalid Attribute Value",
			fmt.Sprintf("machine_type = %q is invalid for an aws_asg pool: want %s.", v.ValueString(), instanceTypeWant))
	}
	return diags
}
