package provider

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/resourcevalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/noderoll/terraform-provider-noderoll/providers/asg"
	"github.com/noderoll/terraform-provider-noderoll/rollout"
)

var (
	_ resource.Resource                     = (*nodePoolResource)(nil)
	_ resource.ResourceWithConfigure        = (*nodePoolResource)(nil)
	_ resource.ResourceWithImportState      = (*nodePoolResource)(nil)
	_ resource.ResourceWithModifyPlan       = (*nodePoolResource)(nil)
	_ resource.ResourceWithValidateConfig   = (*nodePoolResource)(nil)
	_ resource.ResourceWithConfigValidators = (*nodePoolResource)(nil)
)

// NewNodePoolResource returns the noderoll_node_pool resource.
func NewNodePoolResource() resource.Resource { return &nodePoolResource{} }

type nodePoolResource struct {
	data *providerData
}

var poolNameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

const poolNameWant = "1 to 63 lowercase letters, digits and hyphens, starting and ending with a letter or digit"

// Default operation timeouts: a rollout of a large pool takes a while.
const (
	defaultCreateTimeout = 30 * time.Minute
	defaultUpdateTimeout = 60 * time.Minute
	defaultDeleteTimeout = 30 * time.Minute
)

func (r *nodePoolResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_node_pool"
}

func (r *nodePoolResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	port := []validator.Int64{int64validator.Between(1, 65535)}
	resp.Schema = schema.Schema{
		MarkdownDescription: "A pool of identical nodes that noderoll keeps at `size` healthy nodes on one `image` and " +
			"`machine_type`. Changing `image` or `machine_type` rolls the pool: new nodes are added, health-checked, and " +
			"only then are old nodes drained and removed, wave after wave, within the `rollout` budget. A wave that fails " +
			"rolls the pool back (or halts it) and fails the apply. `terraform plan` shows the rollout in `rollout_plan`.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The pool's identifier: its `name`.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"name": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "The pool's name, unique within its backend (for `local`, within the state directory): " +
					poolNameWant + ". Changing it replaces the pool.",
				Validators:    []validator.String{stringvalidator.RegexMatches(poolNameRE, "want "+poolNameWant)},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"size": schema.Int64Attribute{
				Required: true,
				MarkdownDescription: "How many healthy nodes the pool keeps, 0 to 1000. Changing only `size` scales the " +
					"pool (new nodes are health-gated, removed ones drained) without a rollout.",
				Validators: []validator.Int64{int64validator.Between(0, 1000)},
			},
			"image": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "The OS image new nodes boot from (for `local`, the value substituted for `{{image}}` " +
					"in the command). Changing it rolls every node.",
				Validators: []validator.String{nonBlank()},
			},
			"machine_type": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "The hardware of each node (for `local`, the value substituted for `{{machine_type}}`). " +
					"Changing it rolls every node.",
				Validators: []validator.String{nonBlank()},
			},
			"template": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The backend's template the group points at: the one new nodes are made from.",
			},
			"previous_template": schema.StringAttribute{
				Computed: true,
				MarkdownDescription: "The template the last rollout started from (during an unfinished rollout, the one it " +
					"would roll back to). Null before the first rollout.",
			},
			"nodes": schema.ListNestedAttribute{
				Computed:            true,
				MarkdownDescription: "The nodes as last observed, ordered by ID.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"id":       schema.StringAttribute{Computed: true, MarkdownDescription: "The node's ID in the backend."},
					"address":  schema.StringAttribute{Computed: true, MarkdownDescription: "The address health checks are sent to."},
					"zone":     schema.StringAttribute{Computed: true, MarkdownDescription: "The node's zone, where the backend has zones."},
					"template": schema.StringAttribute{Computed: true, MarkdownDescription: "The template the node was made from."},
					"healthy":  schema.BoolAttribute{Computed: true, MarkdownDescription: "Whether the node was running and passed one health check when last observed."},
				}},
			},
			"rollout_plan": schema.SingleNestedAttribute{
				Computed: true,
				MarkdownDescription: "What the pending apply will do, computed at plan time from the pool as observed and " +
					"the new configuration, for a change review. After the apply it keeps the plan that was applied.",
				Attributes: map[string]schema.Attribute{
					"action":         schema.StringAttribute{Computed: true, MarkdownDescription: "`create`, `roll` (nodes are replaced), `scale` (only the node count changes) or `none`."},
					"summary":        schema.StringAttribute{Computed: true, MarkdownDescription: "The plan in words: waves, nodes replaced, lowest healthy capacity, estimated duration."},
					"replaced":       schema.Int64Attribute{Computed: true, MarkdownDescription: "Nodes that will be replaced."},
					"waves":          schema.Int64Attribute{Computed: true, MarkdownDescription: "Number of waves."},
					"lowest_healthy": schema.Int64Attribute{Computed: true, MarkdownDescription: "The fewest healthy nodes the pool will have at any moment."},
					"min_allowed":    schema.Int64Attribute{Computed: true, MarkdownDescription: "The fewest healthy nodes the rollout budget allows: `size - max_unavailable`."},
					"max_nodes":      schema.Int64Attribute{Computed: true, MarkdownDescription: "The most nodes that will exist at once: `size + max_surge`."},
					"estimated":      schema.StringAttribute{Computed: true, MarkdownDescription: "Estimated duration, from the last rollout's measured node timings when known."},
				},
			},
			"last_rollout": schema.SingleNestedAttribute{
				Computed:            true,
				MarkdownDescription: "The last run of the engine on this pool by Terraform.",
				Attributes: map[string]schema.Attribute{
					"outcome":            schema.StringAttribute{Computed: true, MarkdownDescription: "`converged`, `rolled_back`, `halted`, `failed` or `interrupted`."},
					"started":            schema.StringAttribute{Computed: true, MarkdownDescription: "Start time, RFC 3339."},
					"finished":           schema.StringAttribute{Computed: true, MarkdownDescription: "End time, RFC 3339."},
					"replaced":           schema.Int64Attribute{Computed: true, MarkdownDescription: "Old nodes replaced by new ones."},
					"rolled_back":        schema.BoolAttribute{Computed: true, MarkdownDescription: "Whether the run failed and was rolled back."},
					"message":            schema.StringAttribute{Computed: true, MarkdownDescription: "The engine's summary."},
					"node_ready_seconds": schema.Float64Attribute{Computed: true, MarkdownDescription: "Mean seconds from a node appearing to it counting as healthy; used by later plan estimates."},
					"drain_seconds":      schema.Float64Attribute{Computed: true, MarkdownDescription: "Mean seconds to drain and remove a node; used by later plan estimates."},
				},
			},
		},
		Blocks: map[string]schema.Block{
			"local": schema.SingleNestedBlock{
				MarkdownDescription: "Run the pool on this machine: each node is a process started from `command`, listening " +
					"on its own loopback address (127.x.y.z) and `port`. Exactly one backend block is required.",
				Attributes: map[string]schema.Attribute{
					"command": schema.ListAttribute{
						ElementType: types.StringType,
						Optional:    true,
						MarkdownDescription: "Program and arguments that start one node. Placeholders are replaced per node: " +
							"`{{image}}`, `{{machine_type}}`, `{{address}}` (the node's loopback address), `{{port}}` and " +
							"`{{node_id}}` and `{{pool}}`. Required in a `local` block. The command and `env` are part of the node " +
							"template: changing them rolls every node.",
						Validators: []validator.List{
							listvalidator.SizeAtLeast(1),
							listvalidator.ValueStringsAre(placeholders()),
						},
					},
					"port": schema.Int64Attribute{
						Optional:            true,
						MarkdownDescription: "The port every node listens on, 1 to 65535. Required in a `local` block. Changing it replaces the pool.",
						Validators:          port,
						PlanModifiers:       []planmodifier.Int64{int64planmodifier.RequiresReplace()},
					},
					"env": schema.MapAttribute{
						ElementType:         types.StringType,
						Optional:            true,
						MarkdownDescription: "Extra environment variables for each node's process. Values may use the same placeholders as `command`.",
						Validators: []validator.Map{mapvalidator.KeysAre(stringvalidator.RegexMatches(
							regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`), "want an environment variable name: letters, digits and underscores, not starting with a digit"))},
					},
					"state_dir": schema.StringAttribute{
						Optional: true,
						MarkdownDescription: "Directory where this pool records its nodes, overriding the provider's " +
							"`local.state_dir`. Changing it replaces the pool.",
						Validators:    []validator.String{nonBlank()},
						PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
					},
				},
			},
			"aws_asg": schema.SingleNestedBlock{
				MarkdownDescription: "Run the pool in an EC2 Auto Scaling group. Each image or machine type becomes a numbered " +
					"version of the base launch template (copied from its default version, with the AMI and instance type set); " +
					"the group is pointed at that version, never at `$Latest` or `$Default`. Nodes are probed at their private " +
					"IP addresses, so Terraform must run where it can reach them (in the VPC, or over a VPN). Settings marked " +
					"*create-time* are given to the group when noderoll creates it: changing them later replaces the pool, except " +
					"on an imported pool, where the first apply only records them. Exactly one backend block is required.",
				Attributes: map[string]schema.Attribute{
					"region": schema.StringAttribute{
						Optional:            true,
						Computed:            true,
						MarkdownDescription: "AWS Region of the group, overriding the provider's `aws_asg.region`. Changing it replaces the pool.",
						Validators:          []validator.String{regexCheck(awsRegionRE, awsRegionWant)},
						PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown(), replaceUnlessImportedString()},
					},
					"group_name": schema.StringAttribute{
						Optional:            true,
						Computed:            true,
						MarkdownDescription: "The Auto Scaling group's name. Default `\"noderoll-<name>\"`. Changing it replaces the pool.",
						Validators:          []validator.String{regexCheck(asgNameRE, asgNameWant)},
						PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown(), stringplanmodifier.RequiresReplace()},
					},
					"launch_template_id": schema.StringAttribute{
						Optional: true,
						MarkdownDescription: "ID of the base launch template, such as `aws_launch_template.web.id`. Exactly one of " +
							"`launch_template_id` and `launch_template_name` is required. noderoll adds versions to it and deletes " +
							"only those when the pool is destroyed. *Create-time.*",
						Validators:    []validator.String{regexCheck(launchTemplateRE, launchTemplateWant)},
						PlanModifiers: []planmodifier.String{replaceUnlessImportedString()},
					},
					"launch_template_name": schema.StringAttribute{
						Optional:            true,
						MarkdownDescription: "Name of the base launch template, instead of `launch_template_id`. *Create-time.*",
						Validators:          []validator.String{regexCheck(ltNameRE, ltNameWant)},
						PlanModifiers:       []planmodifier.String{replaceUnlessImportedString()},
					},
					"subnet_ids": schema.ListAttribute{
						ElementType: types.StringType,
						Optional:    true,
						MarkdownDescription: "Subnets the group launches into, one per Availability Zone you want nodes in. " +
							"Required to create a group; an imported group keeps its own. *Create-time.*",
						Validators: []validator.List{listvalidator.SizeAtLeast(1), listvalidator.UniqueValues(),
							listvalidator.ValueStringsAre(regexCheck(subnetIDRE, subnetIDWant))},
						PlanModifiers: []planmodifier.List{replaceUnlessImportedList()},
					},
					"target_group_arns": schema.ListAttribute{
						ElementType:         types.StringType,
						Optional:            true,
						MarkdownDescription: "Load balancer target groups the group registers its instances in. *Create-time.*",
						Validators: []validator.List{listvalidator.UniqueValues(),
							listvalidator.ValueStringsAre(regexCheck(targetGroupARNRE, targetGroupARNWant))},
						PlanModifiers: []planmodifier.List{replaceUnlessImportedList()},
					},
					"use_elb_health": schema.BoolAttribute{
						Optional: true,
						MarkdownDescription: "Make the group judge instances by load balancer target health (health check type " +
							"`ELB`) as well as EC2 status, so the cloud health signal `health_check.cloud` uses follows target " +
							"health. Needs `target_group_arns`. Default `false`. *Create-time.*",
						PlanModifiers: []planmodifier.Bool{replaceUnlessImportedBool()},
					},
					"health_check_grace_period": schema.StringAttribute{
						Optional: true,
						MarkdownDescription: "How long the group waits after an instance starts before judging its health, " +
							"such as `\"60s\"` (whole seconds). Default `\"0s\"`. *Create-time.*",
						Validators:    []validator.String{duration(false)},
						PlanModifiers: []planmodifier.String{replaceUnlessImportedString()},
					},
					"min_size": schema.Int64Attribute{
						Optional: true,
						MarkdownDescription: "The group's MinSize, 0 to 1000. The group is created empty and grows health-gated; " +
							"MinSize applies once the pool reaches it. Default `0`. *Create-time.*",
						Validators:    []validator.Int64{int64validator.Between(0, 1000)},
						PlanModifiers: []planmodifier.Int64{replaceUnlessImportedInt64()},
					},
					"max_size": schema.Int64Attribute{
						Optional: true,
						MarkdownDescription: "The group's MaxSize, 1 to 2000. noderoll raises it for a surge above it and " +
							"restores it after. Default `" + fmt.Sprint(asg.DefaultMaxSize) + "`. *Create-time.*",
						Validators:    []validator.Int64{int64validator.Between(1, 2000)},
						PlanModifiers: []planmodifier.Int64{replaceUnlessImportedInt64()},
					},
				},
			},
			"gce_mig": schema.SingleNestedBlock{
				MarkdownDescription: "Run the pool in a GCE managed instance group. Not supported yet by this provider build: " +
					"planning a pool with this block fails with an error.",
				Attributes: map[string]schema.Attribute{
					"zone":                   schema.StringAttribute{Optional: true, MarkdownDescription: "The group's zone, such as `us-central1-a`."},
					"base_instance_template": schema.StringAttribute{Optional: true, MarkdownDescription: "The instance template new templates are derived from."},
				},
			},
			"azure_vmss": schema.SingleNestedBlock{
				MarkdownDescription: "Run the pool in an Azure virtual machine scale set. Not supported yet by this provider " +
					"build: planning a pool with this block fails with an error.",
				Attributes: map[string]schema.Attribute{
					"resource_group_name": schema.StringAttribute{Optional: true, MarkdownDescription: "The scale set's resource group."},
					"scale_set_name":      schema.StringAttribute{Optional: true, MarkdownDescription: "The scale set's name."},
				},
			},
			"rollout": schema.SingleNestedBlock{
				MarkdownDescription: "How the pool may move when `image` or `machine_type` changes. Every attribute is optional.",
				Attributes: map[string]schema.Attribute{
					"max_surge": schema.StringAttribute{
						Optional: true,
						MarkdownDescription: "Extra nodes allowed above `size` during a rollout: a count (`\"1\"`) or a percentage " +
							"of `size` (`\"25%\"`, rounded up). Default `\"1\"`. `max_surge` and `max_unavailable` may not both be `\"0\"`.",
						Validators: []validator.String{intOrPercent()},
					},
					"max_unavailable": schema.StringAttribute{
						Optional: true,
						MarkdownDescription: "Healthy nodes the pool may lack below `size` during a rollout: a count or a " +
							"percentage of `size` (rounded down). Default `\"0\"`: never below `size`.",
						Validators: []validator.String{intOrPercent()},
					},
					"min_ready": schema.StringAttribute{
						Optional:            true,
						MarkdownDescription: "How long a new node must stay healthy before it counts as capacity and an old node may go. Default `\"10s\"`.",
						Validators:          []validator.String{duration(false)},
					},
					"node_deadline": schema.StringAttribute{
						Optional:            true,
						MarkdownDescription: "A new node not healthy this long after it appeared fails its wave. Must be more than `min_ready`. Default `\"10m\"`.",
						Validators:          []validator.String{duration(true)},
					},
					"progress_deadline": schema.StringAttribute{
						Optional:            true,
						MarkdownDescription: "The rollout fails if no node is replaced for this long. Default `\"0s\"`: no limit besides `node_deadline` and the `timeouts`.",
						Validators:          []validator.String{duration(false)},
					},
					"pause_between_waves": schema.StringAttribute{
						Optional:            true,
						MarkdownDescription: "Wait after each wave before starting the next. Default `\"0s\"`.",
						Validators:          []validator.String{duration(false)},
					},
					"canary_count": schema.Int64Attribute{
						Optional:            true,
						MarkdownDescription: "Nodes replaced first, which must stay healthy for `canary_soak` before the rest of the pool moves. At most `size`. Default `0`: no canary.",
						Validators:          []validator.Int64{int64validator.Between(0, 1000)},
					},
					"canary_soak": schema.StringAttribute{
						Optional:            true,
						MarkdownDescription: "How long the canaries must stay healthy. Default `\"0s\"`.",
						Validators:          []validator.String{duration(false)},
					},
					"on_failure": schema.StringAttribute{
						Optional: true,
						MarkdownDescription: "What a failed wave does: `\"rollback\"` (default) points the group back at the " +
							"previous template, removes the new nodes and restores `size` healthy nodes; `\"halt\"` stops and " +
							"leaves the pool as it is. Either way the apply fails.",
						Validators: []validator.String{stringvalidator.OneOf(string(rollout.Rollback), string(rollout.Halt))},
					},
				},
			},
			"health_check": schema.SingleNestedBlock{
				MarkdownDescription: "How a node is judged healthy: `healthy_threshold` consecutive passing probes, then " +
					"`rollout.min_ready` of staying healthy. Without an `http` or `tcp` block, a TCP connect to the " +
					"backend's port is used (`local`); an `aws_asg` pool needs an `http` or `tcp` block with a `port`, " +
					"or `cloud = true`. Probes go to the address the backend reports (on AWS, the private IP).",
				Attributes: map[string]schema.Attribute{
					"interval": schema.StringAttribute{
						Optional:            true,
						MarkdownDescription: "Time between probes of a node. Default `\"5s\"`.",
						Validators:          []validator.String{duration(true)},
					},
					"timeout": schema.StringAttribute{
						Optional:            true,
						MarkdownDescription: "Time limit of one probe; at most `interval`. Default `\"2s\"` (or `interval` when shorter).",
						Validators:          []validator.String{duration(true)},
					},
					"healthy_threshold": schema.Int64Attribute{
						Optional:            true,
						MarkdownDescription: "Consecutive passing probes that make a node healthy, 1 to 100. Default `2`.",
						Validators:          []validator.Int64{int64validator.Between(1, 100)},
					},
					"cloud": schema.BoolAttribute{
						Optional: true,
						MarkdownDescription: "Require the cloud's own health verdict too (`aws_asg` only): a node passes only " +
							"when its Auto Scaling group reports it `Healthy` (with `aws_asg.use_elb_health`, that follows load " +
							"balancer target health). Without it, only a node the group reports `Unhealthy` fails. With `cloud = " +
							"true` and no `http` or `tcp` block, the cloud's verdict is the only check. Default `false`.",
					},
				},
				Blocks: map[string]schema.Block{
					"http": schema.SingleNestedBlock{
						MarkdownDescription: "Probe with an HTTP or HTTPS GET. Redirects are not followed; HTTPS certificates are verified.",
						Attributes: map[string]schema.Attribute{
							"port": schema.Int64Attribute{
								Optional:            true,
								MarkdownDescription: "Port to probe, 1 to 65535. Default: the backend's port.",
								Validators:          port,
							},
							"path": schema.StringAttribute{
								Optional:            true,
								MarkdownDescription: "Path to GET, starting with `/`. Default `\"" + defaultHTTPPath + "\"`.",
								Validators:          []validator.String{urlPath()},
							},
							"scheme": schema.StringAttribute{
								Optional:            true,
								MarkdownDescription: "`\"http\"` (default) or `\"https\"`.",
								Validators:          []validator.String{stringvalidator.OneOf("http", "https")},
							},
							"expect_status": schema.ListAttribute{
								ElementType:         types.Int64Type,
								Optional:            true,
								MarkdownDescription: "Status codes that pass, each 100 to 599. Default: any 2xx.",
								Validators:          []validator.List{listvalidator.ValueInt64sAre(int64validator.Between(100, 599))},
							},
							"body_contains": schema.StringAttribute{
								Optional:            true,
								MarkdownDescription: "Text that must occur in the first 64 KiB of the response body.",
								Validators:          []validator.String{stringvalidator.LengthBetween(1, 65536)},
							},
							"ca_cert_pem": schema.StringAttribute{
								Optional:            true,
								MarkdownDescription: "PEM certificates trusted for HTTPS instead of the system roots.",
								Validators:          []validator.String{pemCertificates()},
							},
						},
					},
					"tcp": schema.SingleNestedBlock{
						MarkdownDescription: "Probe by opening a TCP connection.",
						Attributes: map[string]schema.Attribute{
							"port": schema.Int64Attribute{
								Optional:            true,
								MarkdownDescription: "Port to connect to, 1 to 65535. Default: the backend's port.",
								Validators:          port,
							},
						},
					},
				},
			},
			"drain": schema.SingleNestedBlock{
				MarkdownDescription: "How an old node's work is evacuated before it is removed. Without `command` or " +
					"`webhook`, nodes are removed without a drain step.",
				Attributes: map[string]schema.Attribute{
					"timeout": schema.StringAttribute{
						Optional:            true,
						MarkdownDescription: "Time limit of one node's drain. Default `\"5m\"`.",
						Validators:          []validator.String{duration(true)},
					},
					"command": schema.ListAttribute{
						ElementType: types.StringType,
						Optional:    true,
						MarkdownDescription: "Program and arguments run to drain a node; it must exit 0. Placeholders " +
							"`{{node_id}}`, `{{address}}`, `{{zone}}` and `{{template}}` are replaced; no shell is involved. Conflicts with `webhook`.",
						Validators: []validator.List{listvalidator.SizeAtLeast(1), listvalidator.ValueStringsAre(nonBlank())},
					},
				},
				Blocks: map[string]schema.Block{
					"webhook": schema.SingleNestedBlock{
						MarkdownDescription: "POST the node (JSON: id, address, zone, template) to a URL, which must answer 2xx once the node is drained. Conflicts with `command`.",
						Attributes: map[string]schema.Attribute{
							"url": schema.StringAttribute{
								Optional:            true,
								MarkdownDescription: "The http:// or https:// URL to POST to. Required in a `webhook` block.",
								Validators:          []validator.String{httpURL()},
							},
							"headers": schema.MapAttribute{
								ElementType:         types.StringType,
								Optional:            true,
								Sensitive:           true,
								MarkdownDescription: "Extra request headers, such as an authorization token.",
							},
						},
					},
				},
			},
			"timeouts": timeoutsBlock(ctx),
		},
	}
}

func (r *nodePoolResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	if req.ProviderData == nil {
		return // ValidateResourceConfig runs before the provider is configured
	}
	data, ok := req.ProviderData.(*providerData)
	if !ok {
		resp.Diagnostics.AddError("Unexpected Provider Data",
			fmt.Sprintf("The noderoll provider handed the node pool resource %T instead of its own configuration. This is a bug in the provider: please report it.", req.ProviderData))
		return
	}
	r.data = data
}

func (r *nodePoolResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan nodePoolModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := plan.Timeouts.Create(ctx, defaultCreateTimeout)
	resp.Diagnostics.Append(diags...)
	b, diags := r.backend(ctx, &plan, true)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	// A pool that exists but is not in this state belongs to someone else,
	// or to an earlier create that was interrupted: adopting it silently
	// could roll another configuration's nodes.
	if _, err := b.driver.Describe(ctx); err == nil {
		resp.Diagnostics.AddError("Node Pool Already Exists",
			fmt.Sprintf("A pool named %q already exists in this backend, so it was not created. If it is the one this "+
				"configuration means (an earlier create that was interrupted, say), import it: terraform import <address> %s. "+
				"Otherwise choose another name.", plan.Name.ValueString(), b.importID))
		return
	} else if rollout.CodeOf(b.driver, err) != rollout.NotFound {
		resp.Diagnostics.AddError("Could Not Read Node Pool",
			fmt.Sprintf("Checking whether pool %q exists failed: %v. Check the backend and try again.", plan.Name.ValueString(), err))
		return
	}

	report, err := r.apply(ctx, b, plan.spec(), plan.Name.ValueString())
	b.settle(&plan)
	plan.ID = types.StringValue(plan.Name.ValueString())
	plan.PreviousTemplate = types.StringNull()
	state, found, diags := r.observe(ctx, b, plan, report, types.ObjectNull(lastRolloutAttrTypes), err)
	resp.Diagnostics.Append(diags...)
	if err != nil {
		resp.Diagnostics.AddError(failureSummary(report), failureDetail(plan.spec(), plan.Name.ValueString(), report, err, state, found, b.logPath))
	}
	if found {
		resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
	}
}

func (r *nodePoolResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state nodePoolModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	b, diags := r.backend(ctx, &state, false)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	pool, err := b.driver.Describe(ctx)
	if err != nil {
		if rollout.CodeOf(b.driver, err) == rollout.NotFound {
			tflog.Warn(ctx, "node pool is gone; removing it from state", map[string]any{"pool": state.Name.ValueString()})
			resp.State.RemoveResource(ctx)
			return
		}
		resp.Diagnostics.AddError("Could Not Read Node Pool",
			fmt.Sprintf("Observing pool %q failed: %v. Check the backend is reachable and try again.", state.Name.ValueString(), err))
		return
	}
	state.Size = types.Int64Value(int64(pool.Size))
	state.Image = types.StringValue(observedImage(pool))
	if convergence(pool) == "" {
		// Converged on a template the next apply would not reuse (its base
		// changed): show it as not converged, so the plan previews the roll.
		why, err := templateDrift(ctx, b.driver, rollout.Spec{Size: pool.Size, Image: pool.Template.Image, MachineType: pool.Template.MachineType})
		if err != nil {
			resp.Diagnostics.AddWarning("Could Not Check Node Pool Template",
				fmt.Sprintf("Checking whether the template of pool %q is still what an apply would use failed: %v. "+
					"If its base template changed, the next apply may replace every node; the next plan checks again.", state.Name.ValueString(), err))
		} else if why != "" {
			state.Image = types.StringValue(notConvergedImage(pool.Template.Image, why))
		}
	}
	state.MachineType = types.StringValue(pool.Template.MachineType)
	state.Template = types.StringValue(pool.Template.ID)
	if pool.Origin != "" {
		state.PreviousTemplate = types.StringValue(pool.Origin)
	} else if state.PreviousTemplate.IsUnknown() {
		state.PreviousTemplate = types.StringNull()
	}
	nodes, d := nodesValue(pool.Nodes, probeAll(ctx, b.prober, pool.Nodes))
	resp.Diagnostics.Append(d...)
	state.Nodes = nodes
	if state.RolloutPlan.IsUnknown() {
		state.RolloutPlan = types.ObjectNull(rolloutPlanAttrTypes)
	}
	if state.LastRollout.IsUnknown() {
		state.LastRollout = types.ObjectNull(lastRolloutAttrTypes)
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *nodePoolResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, prior nodePoolModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &prior)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := plan.Timeouts.Update(ctx, defaultUpdateTimeout)
	resp.Diagnostics.Append(diags...)
	b, diags := r.backend(ctx, &plan, true)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	report, err := r.apply(ctx, b, plan.spec(), plan.Name.ValueString())
	b.settle(&plan)
	// previous_template moves only when a rollout succeeded; an unfinished
	// one shows its origin (see observe).
	plan.PreviousTemplate = prior.PreviousTemplate
	if err == nil && report.From != "" && report.To != "" && report.From != report.To {
		plan.PreviousTemplate = types.StringValue(report.From)
	}
	state, found, diags := r.observe(ctx, b, plan, report, prior.LastRollout, err)
	resp.Diagnostics.Append(diags...)
	if err != nil {
		resp.Diagnostics.AddError(failureSummary(report), failureDetail(plan.spec(), plan.Name.ValueString(), report, err, state, found, b.logPath))
	} else if report.Added+report.Removed > 0 {
		resp.Diagnostics.AddWarning("Node Pool Rollout Finished", successDetail(plan.spec(), plan.Name.ValueString(), report))
	}
	if found {
		resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
	} else {
		resp.State.RemoveResource(ctx)
	}
}

func (r *nodePoolResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state nodePoolModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := state.Timeouts.Delete(ctx, defaultDeleteTimeout)
	resp.Diagnostics.Append(diags...)
	// Removing nodes starts none: an imported pool whose command was never
	// applied can still be destroyed.
	b, diags := r.backend(ctx, &state, false)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ex, err := b.executor(ctx, state.strategy())
	if err != nil {
		resp.Diagnostics.AddError("Invalid Node Pool Configuration", err.Error())
		return
	}
	report, err := ex.Destroy(ctx)
	if err != nil {
		resp.Diagnostics.AddError("Could Not Delete Node Pool",
			fmt.Sprintf("Draining and removing the nodes of pool %q did not finish: %v\n\n"+
				"Removed %d nodes. The pool is still in state; run terraform destroy again to continue.", state.Name.ValueString(), err, report.Removed))
	}
}

// ImportState adopts an existing pool: an Auto Scaling group by
// "aws_asg:[<region>/]<group_name>", or a local pool by "<state_dir>/<name>"
// or "<name>" (in the provider's state directory), with ":<port>" when its
// nodes do not serve on the local backend's default port.
func (r *nodePoolResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	if strings.HasPrefix(strings.TrimSpace(req.ID), awsImportPrefix) {
		resp.Diagnostics.Append(r.importAWS(ctx, req.ID, resp)...)
		return
	}
	dir, name, port, err := parseImportID(req.ID)
	if err != nil {
		resp.Diagnostics.AddError("Invalid Import ID", err.Error())
		return
	}
	resp.Diagnostics.Append(r.importLocal(ctx, dir, name, port, resp)...)
}

// timeoutsBlock is the framework's timeouts block with descriptions in the
// docs: how long create, update and delete may take before the run is
// interrupted (and reported as such).
func timeoutsBlock(ctx context.Context) schema.Block {
	b := timeouts.Block(ctx, timeouts.Opts{
		Create: true, Update: true, Delete: true,
		CreateDescription: "How long creating the pool and waiting for `size` healthy nodes may take, such as `\"30m\"`. Default `\"30m\"`.",
		UpdateDescription: "How long a rollout, including a rollback, may take, such as `\"2h\"`. Default `\"60m\"`. When it runs out the rollout " +
			"stops where it is (outcome `interrupted`) and the next apply continues it.",
		DeleteDescription: "How long draining and removing every node may take. Default `\"30m\"`.",
	})
	nb, ok := b.(schema.SingleNestedBlock)
	if !ok {
		return b
	}
	nb.MarkdownDescription = "Time limits of the operations."
	attrs := make(map[string]schema.Attribute, len(nb.Attributes))
	for k, a := range nb.Attributes {
		if sa, ok := a.(schema.StringAttribute); ok {
			sa.MarkdownDescription = sa.Description
			a = sa
		}
		attrs[k] = a
	}
	nb.Attributes = attrs
	return nb
}

// ConfigValidators enforce the block structure that per-attribute validators
// cannot see.
func (r *nodePoolResource) ConfigValidators(context.Context) []resource.ConfigValidator {
	return []resource.ConfigValidator{
		resourcevalidator.ExactlyOneOf(path.MatchRoot("local"), path.MatchRoot("aws_asg"), path.MatchRoot("gce_mig"), path.MatchRoot("azure_vmss")),
		resourcevalidator.Conflicting(path.MatchRoot("health_check").AtName("http"), path.MatchRoot("health_check").AtName("tcp")),
		resourcevalidator.Conflicting(path.MatchRoot("drain").AtName("command"), path.MatchRoot("drain").AtName("webhook")),
	}
}

// ValidateConfig checks what needs several attributes at once, with the
// engine's and the probers' own rules, so `terraform validate` and `plan`
// reject a bad pool before any node is touched.
func (r *nodePoolResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var m nodePoolModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	for _, b := range []struct {
		name string
		set  bool
	}{{"gce_mig", m.GCEMIG != nil}, {"azure_vmss", m.AzureVMSS != nil}} {
		if b.set {
			resp.Diagnostics.AddAttributeError(path.Root(b.name), "Backend Not Supported Yet",
				fmt.Sprintf("The %s block is not supported yet by this provider build: no pool can be planned on it. "+
					"Use a local or aws_asg block, or a provider build that supports %s.", b.name, b.name))
		}
	}
	if m.AWSASG != nil {
		resp.Diagnostics.Append(m.validateAWS()...)
	} else if h := m.HealthCheck; h != nil && h.Cloud.ValueBool() {
		resp.Diagnostics.AddAttributeError(path.Root("health_check").AtName("cloud"), "Invalid Attribute Value",
			"health_check.cloud = true is invalid here: want it only in an aws_asg pool, whose group reports a health status; the local backend has none.")
	}
	if l := m.Local; l != nil {
		if l.Command.IsNull() {
			resp.Diagnostics.AddAttributeError(path.Root("local").AtName("command"), "Missing Required Attribute",
				"local.command is required in a local block: the program and arguments that start one node, such as [\"./app\", \"--listen\", \"{{address}}:{{port}}\", \"--version\", \"{{image}}\"].")
		}
		if l.Port.IsNull() {
			resp.Diagnostics.AddAttributeError(path.Root("local").AtName("port"), "Missing Required Attribute",
				"local.port is required in a local block: the port every node listens on, 1 to 65535.")
		}
	}
	if d := m.Drain; d != nil && d.Webhook != nil && d.Webhook.URL.IsNull() {
		resp.Diagnostics.AddAttributeError(path.Root("drain").AtName("webhook").AtName("url"), "Missing Required Attribute",
			"drain.webhook.url is required in a webhook block: the http:// or https:// URL to POST each node to.")
	}
	if m.specKnown() {
		resp.Diagnostics.Append(engineDiagnostics(m.spec().Validate())...)
	}
	if !m.strategyKnown() {
		return
	}
	s := m.strategy()
	resp.Diagnostics.Append(engineDiagnostics(s.Validate())...)
	if s.CanaryCount > 0 && !m.Size.IsNull() && !m.Size.IsUnknown() && int64(s.CanaryCount) > m.Size.ValueInt64() {
		resp.Diagnostics.AddAttributeError(path.Root("rollout").AtName("canary_count"), "Invalid Attribute Value",
			fmt.Sprintf("rollout.canary_count = %d is invalid: want at most size (%d).", s.CanaryCount, m.Size.ValueInt64()))
	}
	if h := m.HealthCheck; h != nil && !h.Timeout.IsNull() && !h.Interval.IsNull() {
		if m.probeTimeout() > s.ProbeInterval {
			resp.Diagnostics.AddAttributeError(path.Root("health_check").AtName("timeout"), "Invalid Attribute Value",
				fmt.Sprintf("health_check.timeout = %q is invalid: want at most health_check.interval (%q), or probes would overlap.",
					h.Timeout.ValueString(), h.Interval.ValueString()))
		}
	}
	if m.Local != nil && !m.Local.Port.IsUnknown() {
		resp.Diagnostics.Append(proberDiagnostics(m.prober(proberDefaults(m.Local.Port.ValueInt64())))...)
	}
	if m.AWSASG != nil && m.healthCheckKnown() {
		resp.Diagnostics.Append(proberDiagnostics(m.prober(proberConfig{cloud: true}))...)
	}
	if m.Drain != nil && m.Drain.Webhook != nil && (m.Drain.Webhook.URL.IsUnknown() || m.Drain.Webhook.Headers.IsUnknown()) {
		return
	}
	if _, err := m.drainer(); err != nil {
		resp.Diagnostics.Append(engineDrainDiagnostics(err)...)
	}
}

// ModifyPlan computes rollout_plan: what the apply will do, from the pool as
// it is now and the planned spec.
func (r *nodePoolResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.data == nil {
		return // destroy, or the provider is not configured yet
	}
	var plan nodePoolModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if a := plan.AWSASG; a != nil && req.State.Raw.IsNull() && a.SubnetIDs.IsNull() {
		// Only a create needs subnets: an imported group keeps its own.
		resp.Diagnostics.AddAttributeError(path.Root("aws_asg").AtName("subnet_ids"), "Missing Required Attribute",
			fmt.Sprintf("aws_asg.subnet_ids is required to create the group of pool %q: the subnets it launches into, such as "+
				"[\"subnet-0123456789abcdef0\"]. (To adopt an existing group instead, import it: terraform import <address> aws_asg:<group_name>.)", plan.Name.ValueString()))
		return
	}
	if resp.Diagnostics.HasError() || !plan.RolloutPlan.IsUnknown() || !plan.known() || (plan.Local == nil && plan.AWSASG == nil) {
		// A plan that changes nothing keeps the preview it had; unknown
		// values are previewed on the next plan, once they are known.
		return
	}
	var prior nodePoolModel
	if !req.State.Raw.IsNull() {
		resp.Diagnostics.Append(req.State.Get(ctx, &prior)...)
	}
	b, diags := r.backend(ctx, &plan, false)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	var current rollout.Pool
	if !req.State.Raw.IsNull() {
		p, err := b.driver.Describe(ctx)
		switch {
		case err == nil:
			current = p
		case rollout.CodeOf(b.driver, err) == rollout.NotFound:
			// Gone since the refresh: the apply creates it again.
		default:
			resp.Diagnostics.AddWarning("Rollout Preview Unavailable",
				fmt.Sprintf("Could not observe pool %q to preview the rollout: %v. The apply will observe it again.", plan.Name.ValueString(), err))
			return
		}
	}
	if commandChanged(prior.Local, plan.Local) {
		// The local backend's template includes the command and env, so
		// changing them rolls every node even with the same image; the
		// preview compares image and machine type only, so say so here.
		current.Template.MachineType += " (previous local command/env)"
	}
	var drift string
	if current.Template.ID != "" {
		why, err := templateDrift(ctx, b.driver, plan.spec())
		if err != nil {
			resp.Diagnostics.AddWarning("Rollout Preview May Be Incomplete",
				fmt.Sprintf("Could not check whether the template of pool %q is still what the apply would use: %v. "+
					"If its base template changed, the apply replaces every node.", plan.Name.ValueString(), err))
		} else if why != "" {
			// The apply makes a new template from the changed base, so the
			// preview must not take the current one for the target.
			drift = why
			current.Template.MachineType += " (previous base template)"
		}
	}
	preview := rollout.Preview(current, plan.spec(), plan.strategy(), timingsOf(ctx, prior.LastRollout, plan.drains(), plan.strategy(), b.bootEstimate))
	if drift != "" {
		preview.Reasons = append(preview.Reasons, drift)
	}
	var notes []string
	if prior.Local != nil && prior.Local.Command.IsNull() && current.Template.ID != "" {
		notes = append(notes, "the pool was imported and its command is not known yet: "+
			"if local.command or local.env differ from the ones its nodes run, the apply rolls every node")
	}
	v, d := rolloutPlanValue(preview, notes...)
	resp.Diagnostics.Append(d...)
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("rollout_plan"), v)...)
	tflog.Info(ctx, "rollout preview: "+preview.String(), map[string]any{"pool": plan.Name.ValueString()})
}

// apply runs the engine with progress in the Terraform log.
func (r *nodePoolResource) apply(ctx context.Context, b *backend, spec rollout.Spec, name string) (rollout.Report, error) {
	ex, err := b.executor(ctx, b.strategy)
	if err != nil {
		return rollout.Report{Outcome: rollout.OutcomeFailed, Message: err.Error()}, err
	}
	tflog.Info(ctx, "node pool: converging", map[string]any{"pool": name, "size": spec.Size, "image": spec.Image, "machine_type": spec.MachineType})
	return ex.Apply(ctx, spec)
}

// observe builds the state to save after a run from what the backend now
// reports, so a failed or interrupted apply leaves state equal to reality.
// found is false when the pool does not exist.
func (r *nodePoolResource) observe(ctx context.Context, b *backend, m nodePoolModel, report rollout.Report, prevLast types.Object, runErr error) (nodePoolModel, bool, diag.Diagnostics) {
	var diags diag.Diagnostics
	converged := runErr == nil
	last, d := lastRolloutValue(ctx, report, runErr, prevLast)
	diags.Append(d...)
	m.LastRollout = last
	if m.RolloutPlan.IsUnknown() {
		m.RolloutPlan = types.ObjectNull(rolloutPlanAttrTypes)
	}
	// A fresh context: the run's may have expired, and the state must still
	// say what the pool looks like.
	octx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	pool, err := b.driver.Describe(octx)
	if err != nil {
		if rollout.CodeOf(b.driver, err) == rollout.NotFound {
			return m, false, diags
		}
		diags.AddError("Could Not Observe Node Pool",
			fmt.Sprintf("After the run, observing pool %q failed: %v. The state may be out of date; the next plan refreshes it.", m.Name.ValueString(), err))
		if m.Template.IsUnknown() {
			m.Template = types.StringNull()
		}
		if m.Nodes.IsUnknown() {
			m.Nodes = types.ListNull(types.ObjectType{AttrTypes: nodeAttrTypes})
		}
		return m, true, diags
	}
	m.Template = types.StringValue(pool.Template.ID)
	if !converged {
		m.Size = types.Int64Value(int64(pool.Size))
		m.Image = types.StringValue(observedImage(pool))
		m.MachineType = types.StringValue(pool.Template.MachineType)
		if pool.Origin != "" {
			m.PreviousTemplate = types.StringValue(pool.Origin)
		}
	}
	nodes, d := nodesValue(pool.Nodes, probeAll(octx, b.prober, pool.Nodes))
	diags.Append(d...)
	m.Nodes = nodes
	return m, true, diags
}

func failureSummary(r rollout.Report) string {
	switch r.Outcome {
	case rollout.OutcomeRolledBack:
		return "Node Pool Rollout Failed And Was Rolled Back"
	case rollout.OutcomeHalted:
		return "Node Pool Rollout Failed And Halted"
	case rollout.OutcomeInterrupted:
		return "Node Pool Rollout Interrupted"
	}
	return "Node Pool Rollout Failed"
}

// failureDetail says which nodes failed and why, the outcome, what the pool
// looks like now, and what to do next.
func failureDetail(spec rollout.Spec, name string, r rollout.Report, err error, now nodePoolModel, found bool, logPath func(string) string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Pool %q did not converge on %s", name, rollout.TemplateName(spec.Image, spec.MachineType))
	if r.To != "" {
		fmt.Fprintf(&b, " (template %s)", r.To)
	}
	fmt.Fprintf(&b, ": outcome %s.\n", nameOr(string(r.Outcome), "failed"))
	if len(r.Failures) > 0 {
		b.WriteString("\nFailed nodes:\n")
		for _, f := range r.Failures {
			fmt.Fprintf(&b, "  - %s: %s\n", f.Node, f.Reason)
			if logPath != nil {
				fmt.Fprintf(&b, "    its output: %s\n", logPath(f.Node))
			}
		}
	}
	b.WriteString("\nThe pool now: ")
	if !found {
		b.WriteString("does not exist.\n")
	} else {
		healthy, total := 0, 0
		for _, n := range now.Nodes.Elements() {
			total++
			if o, ok := n.(types.Object); ok {
				if h, ok := o.Attributes()["healthy"].(types.Bool); ok && h.ValueBool() {
					healthy++
				}
			}
		}
		fmt.Fprintf(&b, "%d nodes (%d healthy), image %s, template %s.\n", total, healthy, now.Image.ValueString(), now.Template.ValueString())
	}
	b.WriteString("\nWhat to do next: ")
	switch r.Outcome {
	case rollout.OutcomeRolledBack:
		b.WriteString("the pool is back on its previous template and the state says so. Fix the image or machine type " +
			"(check the failed nodes' probe results above), then plan and apply again.\n")
	case rollout.OutcomeHalted:
		b.WriteString("the pool was left as it is (on_failure = \"halt\") and is not converged. Inspect the failed nodes, " +
			"then apply again to finish the rollout, or set image back to revert it.\n")
	case rollout.OutcomeInterrupted:
		b.WriteString("the run stopped before it finished (timeout or cancellation). Apply again: the next run continues " +
			"from what the pool shows.\n")
	default:
		b.WriteString("the rollout and its recovery both failed. Inspect the pool, then apply again: the next run " +
			"continues from what the pool shows.\n")
	}
	fmt.Fprintf(&b, "\nEngine report:\n%v", err)
	return b.String()
}

func successDetail(spec rollout.Spec, name string, r rollout.Report) string {
	msg := fmt.Sprintf("Pool %q converged on %s (template %s) in %s: %d wave(s), %d node(s) replaced, %d added, %d removed; "+
		"lowest healthy %d of %d.",
		name, rollout.TemplateName(spec.Image, spec.MachineType), r.To, r.Duration().Round(100*time.Millisecond), r.Waves, r.Replaced,
		r.Added, r.Removed, r.LowestHealthy, spec.Size)
	if r.Message != "" {
		msg += "\n" + r.Message
	}
	return msg
}

// commandChanged reports whether the local command or env differ between
// the prior state and the plan. After an import the prior command is not
// known, and is taken as unchanged.
func commandChanged(prior, plan *localModel) bool {
	if prior == nil || plan == nil || prior.Command.IsNull() {
		return false
	}
	return !prior.Command.Equal(plan.Command) || !prior.Env.Equal(plan.Env)
}

func nameOr(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

// logEvent writes one engine step to the Terraform log (TF_LOG=INFO).
func logEvent(ctx context.Context, pool string, e rollout.Event) {
	fields := map[string]any{"pool": pool, "event": string(e.Type)}
	if e.Wave > 0 {
		fields["wave"] = e.Wave
	}
	if e.Node != "" {
		fields["node"] = e.Node
	}
	if e.Template != "" {
		fields["template"] = e.Template
	}
	msg := "node pool: " + e.String()
	switch e.Type {
	case rollout.EventNodeFailed, rollout.EventRollingBack, rollout.EventHalted, rollout.EventRetry:
		tflog.Warn(ctx, msg, fields)
	default:
		tflog.Info(ctx, msg, fields)
	}
}
