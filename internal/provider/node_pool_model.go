package provider

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"

	"github.com/noderoll/terraform-provider-noderoll/rollout"
)

// nodePoolModel is noderoll_node_pool's state, plan and config. Blocks are
// pointers: nil when the block is absent. Computed values that are unknown
// during a plan use the framework's types.
type nodePoolModel struct {
	ID          types.String `tfsdk:"id"`
	Name        types.String `tfsdk:"name"`
	Size        types.Int64  `tfsdk:"size"`
	Image       types.String `tfsdk:"image"`
	MachineType types.String `tfsdk:"machine_type"`

	Local     *localModel     `tfsdk:"local"`
	AWSASG    *awsASGModel    `tfsdk:"aws_asg"`
	GCEMIG    *gceMIGModel    `tfsdk:"gce_mig"`
	AzureVMSS *azureVMSSModel `tfsdk:"azure_vmss"`

	Rollout     *rolloutModel     `tfsdk:"rollout"`
	HealthCheck *healthCheckModel `tfsdk:"health_check"`
	Drain       *drainModel       `tfsdk:"drain"`
	Timeouts    timeouts.Value    `tfsdk:"timeouts"`

	Template         types.String `tfsdk:"template"`
	PreviousTemplate types.String `tfsdk:"previous_template"`
	Nodes            types.List   `tfsdk:"nodes"`
	RolloutPlan      types.Object `tfsdk:"rollout_plan"`
	LastRollout      types.Object `tfsdk:"last_rollout"`
}

type localModel struct {
	Command  types.List   `tfsdk:"command"`
	Port     types.Int64  `tfsdk:"port"`
	Env      types.Map    `tfsdk:"env"`
	StateDir types.String `tfsdk:"state_dir"`
}

type awsASGModel struct {
	Region                 types.String `tfsdk:"region"`
	GroupName              types.String `tfsdk:"group_name"`
	LaunchTemplateID       types.String `tfsdk:"launch_template_id"`
	LaunchTemplateName     types.String `tfsdk:"launch_template_name"`
	SubnetIDs              types.List   `tfsdk:"subnet_ids"`
	TargetGroupARNs        types.List   `tfsdk:"target_group_arns"`
	UseELBHealth           types.Bool   `tfsdk:"use_elb_health"`
	HealthCheckGracePeriod types.String `tfsdk:"health_check_grace_period"`
	MinSize                types.Int64  `tfsdk:"min_size"`
	MaxSize                types.Int64  `tfsdk:"max_size"`
}

type gceMIGModel struct {
	Zone                 types.String `tfsdk:"zone"`
	BaseInstanceTemplate types.String `tfsdk:"base_instance_template"`
}

type azureVMSSModel struct {
	ResourceGroupName types.String `tfsdk:"resource_group_name"`
	ScaleSetName      types.String `tfsdk:"scale_set_name"`
}

type rolloutModel struct {
	MaxSurge          types.String `tfsdk:"max_surge"`
	MaxUnavailable    types.String `tfsdk:"max_unavailable"`
	MinReady          types.String `tfsdk:"min_ready"`
	NodeDeadline      types.String `tfsdk:"node_deadline"`
	ProgressDeadline  types.String `tfsdk:"progress_deadline"`
	PauseBetweenWaves types.String `tfsdk:"pause_between_waves"`
	CanaryCount       types.Int64  `tfsdk:"canary_count"`
	CanarySoak        types.String `tfsdk:"canary_soak"`
	OnFailure         types.String `tfsdk:"on_failure"`
}

type healthCheckModel struct {
	HTTP             *httpCheckModel `tfsdk:"http"`
	TCP              *tcpCheckModel  `tfsdk:"tcp"`
	Interval         types.String    `tfsdk:"interval"`
	Timeout          types.String    `tfsdk:"timeout"`
	HealthyThreshold types.Int64     `tfsdk:"healthy_threshold"`
	Cloud            types.Bool      `tfsdk:"cloud"`
}

type httpCheckModel struct {
	Port         types.Int64  `tfsdk:"port"`
	Path         types.String `tfsdk:"path"`
	Scheme       types.String `tfsdk:"scheme"`
	ExpectStatus types.List   `tfsdk:"expect_status"`
	BodyContains types.String `tfsdk:"body_contains"`
	CACertPEM    types.String `tfsdk:"ca_cert_pem"`
}

type tcpCheckModel struct {
	Port types.Int64 `tfsdk:"port"`
}

type drainModel struct {
	Timeout types.String       `tfsdk:"timeout"`
	Command types.List         `tfsdk:"command"`
	Webhook *drainWebhookModel `tfsdk:"webhook"`
}

type drainWebhookModel struct {
	URL     types.String `tfsdk:"url"`
	Headers types.Map    `tfsdk:"headers"`
}

var nodeAttrTypes = map[string]attr.Type{
	"id":       types.StringType,
	"address":  types.StringType,
	"zone":     types.StringType,
	"template": types.StringType,
	"healthy":  types.BoolType,
}

var rolloutPlanAttrTypes = map[string]attr.Type{
	"action":         types.StringType,
	"summary":        types.StringType,
	"replaced":       types.Int64Type,
	"waves":          types.Int64Type,
	"lowest_healthy": types.Int64Type,
	"min_allowed":    types.Int64Type,
	"max_nodes":      types.Int64Type,
	"estimated":      types.StringType,
}

var lastRolloutAttrTypes = map[string]attr.Type{
	"outcome":            types.StringType,
	"started":            types.StringType,
	"finished":           types.StringType,
	"replaced":           types.Int64Type,
	"rolled_back":        types.BoolType,
	"message":            types.StringType,
	"node_ready_seconds": types.Float64Type,
	"drain_seconds":      types.Float64Type,
}

// removeEstimate is how long removing a node without a drain step is
// assumed to take (a stop signal and the process or VM going away) until one
// was measured.
const removeEstimate = time.Second

// Defaults for a health check the configuration leaves out.
const (
	defaultProbeTimeout = 2 * time.Second
	defaultHTTPPath     = "/healthz"
)

// spec is what the configuration asks for.
func (m *nodePoolModel) spec() rollout.Spec {
	return rollout.Spec{Size: int(m.Size.ValueInt64()), Image: m.Image.ValueString(), MachineType: m.MachineType.ValueString()}
}

// known reports whether every value the engine needs is known, so that
// validation and previews are not run against placeholders.
func (m *nodePoolModel) known() bool {
	return m.specKnown() && m.strategyKnown()
}

func (m *nodePoolModel) specKnown() bool {
	return !m.Size.IsUnknown() && !m.Image.IsUnknown() && !m.MachineType.IsUnknown() && !m.Name.IsUnknown()
}

// strategyKnown reports whether the rollout, health_check and drain settings
// are known: `terraform validate` checks them even when size or image come
// from variables.
func (m *nodePoolModel) strategyKnown() bool {
	if r := m.Rollout; r != nil {
		for _, v := range []types.String{r.MaxSurge, r.MaxUnavailable, r.MinReady, r.NodeDeadline, r.ProgressDeadline, r.PauseBetweenWaves, r.CanarySoak, r.OnFailure} {
			if v.IsUnknown() {
				return false
			}
		}
		if r.CanaryCount.IsUnknown() {
			return false
		}
	}
	if h := m.HealthCheck; h != nil && (h.Interval.IsUnknown() || h.HealthyThreshold.IsUnknown() || h.Timeout.IsUnknown()) {
		return false
	}
	if d := m.Drain; d != nil && d.Timeout.IsUnknown() {
		return false
	}
	return true
}

// setDuration parses v into *dst when it is set. Malformed values are left to
// the attribute validators, which report them with their own message.
func setDuration(dst *time.Duration, v types.String) {
	if v.IsNull() || v.IsUnknown() {
		return
	}
	if d, err := time.ParseDuration(v.ValueString()); err == nil {
		*dst = d
	}
}

// strategy converts the rollout, health_check and drain blocks to the
// engine's Strategy, starting from rollout.DefaultStrategy for what is unset.
func (m *nodePoolModel) strategy() rollout.Strategy {
	s := rollout.DefaultStrategy()
	if r := m.Rollout; r != nil {
		if !r.MaxSurge.IsNull() && !r.MaxSurge.IsUnknown() {
			if v, err := rollout.ParseIntOrPercent(r.MaxSurge.ValueString()); err == nil {
				s.MaxSurge = v
			}
		}
		if !r.MaxUnavailable.IsNull() && !r.MaxUnavailable.IsUnknown() {
			if v, err := rollout.ParseIntOrPercent(r.MaxUnavailable.ValueString()); err == nil {
				s.MaxUnavailable = v
			}
		}
		setDuration(&s.MinReady, r.MinReady)
		setDuration(&s.NodeDeadline, r.NodeDeadline)
		setDuration(&s.ProgressDeadline, r.ProgressDeadline)
		setDuration(&s.PauseBetweenWaves, r.PauseBetweenWaves)
		setDuration(&s.CanarySoak, r.CanarySoak)
		if !r.CanaryCount.IsNull() && !r.CanaryCount.IsUnknown() {
			s.CanaryCount = int(r.CanaryCount.ValueInt64())
		}
		if !r.OnFailure.IsNull() && !r.OnFailure.IsUnknown() {
			s.OnFailure = rollout.FailurePolicy(r.OnFailure.ValueString())
		}
	}
	if h := m.HealthCheck; h != nil {
		setDuration(&s.ProbeInterval, h.Interval)
		if !h.HealthyThreshold.IsNull() && !h.HealthyThreshold.IsUnknown() {
			s.HealthyThreshold = int(h.HealthyThreshold.ValueInt64())
		}
	}
	if d := m.Drain; d != nil {
		setDuration(&s.DrainTimeout, d.Timeout)
	}
	return s
}

// probeTimeout is one probe's time limit.
func (m *nodePoolModel) probeTimeout() time.Duration {
	d := defaultProbeTimeout
	if m.HealthCheck != nil {
		setDuration(&d, m.HealthCheck.Timeout)
	}
	return d
}

// fieldPaths maps the engine's FieldError.Field names to attribute paths.
var fieldPaths = map[string]path.Path{
	"size":                path.Root("size"),
	"image":               path.Root("image"),
	"machine_type":        path.Root("machine_type"),
	"max_surge":           path.Root("rollout").AtName("max_surge"),
	"max_unavailable":     path.Root("rollout").AtName("max_unavailable"),
	"min_ready":           path.Root("rollout").AtName("min_ready"),
	"node_deadline":       path.Root("rollout").AtName("node_deadline"),
	"progress_deadline":   path.Root("rollout").AtName("progress_deadline"),
	"pause_between_waves": path.Root("rollout").AtName("pause_between_waves"),
	"canary_count":        path.Root("rollout").AtName("canary_count"),
	"canary_soak":         path.Root("rollout").AtName("canary_soak"),
	"on_failure":          path.Root("rollout").AtName("on_failure"),
	"healthy_threshold":   path.Root("health_check").AtName("healthy_threshold"),
	"interval":            path.Root("health_check").AtName("interval"),
	"drain_timeout":       path.Root("drain").AtName("timeout"),
}

// engineDiagnostics turns the engine's validation errors into attribute
// errors, so a rule lives once, in rollout, and still points at the line.
func engineDiagnostics(errs []error) diag.Diagnostics {
	var diags diag.Diagnostics
	for _, err := range errs {
		var fe *rollout.FieldError
		if errors.As(err, &fe) {
			if p, ok := fieldPaths[fe.Field]; ok {
				diags.AddAttributeError(p, "Invalid Attribute Value", fmt.Sprintf("%s = %s is invalid: %s.", p, fe.Value, fe.Want))
				continue
			}
		}
		diags.AddError("Invalid Node Pool Configuration", err.Error())
	}
	return diags
}

// convergence explains why a pool is not converged on its group's template
// with size nodes running, or returns "" when it is.
func convergence(p rollout.Pool) string {
	var other, notRunning int
	for _, n := range p.Nodes {
		if n.Template != p.Template.ID {
			other++
		}
		if n.State != rollout.NodeRunning {
			notRunning++
		}
	}
	var why []string
	if p.Origin != "" {
		why = append(why, "a rollout from "+p.Origin+" did not finish")
	}
	if other > 0 {
		why = append(why, fmt.Sprintf("%d of %d nodes run another template", other, len(p.Nodes)))
	}
	if notRunning > 0 {
		why = append(why, fmt.Sprintf("%d of %d nodes are not running", notRunning, len(p.Nodes)))
	}
	if len(p.Nodes) != p.Size {
		why = append(why, fmt.Sprintf("%d nodes for a desired size of %d", len(p.Nodes), p.Size))
	}
	return strings.Join(why, "; ")
}

// observedImage is the image state records for a pool: the group's image when
// the pool is converged, otherwise that image annotated with why it is not, so
// the next plan shows a diff and the next apply finishes or reverts the rollout.
func observedImage(p rollout.Pool) string {
	if why := convergence(p); why != "" {
		return notConvergedImage(p.Template.Image, why)
	}
	return p.Template.Image
}

// notConvergedImage is an image annotated with why the pool is not on it as
// configured: never a valid image, so the configuration's differs from it.
func notConvergedImage(image, why string) string {
	return fmt.Sprintf("%s (not converged: %s)", image, why)
}

// templateDrifter is a backend that can tell, without changing anything,
// that PrepareTemplate would make a template other than the group's for
// reasons outside the spec (asg: a new default version of the base
// launch template).
type templateDrifter interface {
	TemplateDrift(context.Context, rollout.Spec) (string, error)
}

// templateDrift asks d when it is a templateDrifter; "" otherwise.
func templateDrift(ctx context.Context, d rollout.Driver, s rollout.Spec) (string, error) {
	td, ok := d.(templateDrifter)
	if !ok {
		return "", nil
	}
	return td.TemplateDrift(ctx, s)
}

// nodesValue converts observed nodes, ordered by ID for stable plans.
// healthy says which passed a probe; nil means judge by the cloud's state.
func nodesValue(nodes []rollout.Node, healthy map[string]bool) (types.List, diag.Diagnostics) {
	sorted := append([]rollout.Node(nil), nodes...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].ID < sorted[j].ID })
	elemType := types.ObjectType{AttrTypes: nodeAttrTypes}
	var diags diag.Diagnostics
	elems := make([]attr.Value, 0, len(sorted))
	for _, n := range sorted {
		ok := n.State == rollout.NodeRunning && n.CloudHealth != rollout.CloudHealthUnhealthy
		if healthy != nil {
			ok = ok && healthy[n.ID]
		}
		v, d := types.ObjectValue(nodeAttrTypes, map[string]attr.Value{
			"id":       types.StringValue(n.ID),
			"address":  types.StringValue(n.Address),
			"zone":     types.StringValue(n.Zone),
			"template": types.StringValue(n.Template),
			"healthy":  types.BoolValue(ok),
		})
		diags.Append(d...)
		elems = append(elems, v)
	}
	l, d := types.ListValue(elemType, elems)
	diags.Append(d...)
	return l, diags
}

// rolloutPlanValue converts a preview; notes are added to its summary.
func rolloutPlanValue(p rollout.PreviewResult, notes ...string) (types.Object, diag.Diagnostics) {
	summary := p.String()
	for _, n := range notes {
		summary += "\nnote: " + n
	}
	return types.ObjectValue(rolloutPlanAttrTypes, map[string]attr.Value{
		"action":         types.StringValue(p.Action),
		"summary":        types.StringValue(summary),
		"replaced":       types.Int64Value(int64(p.Replace)),
		"waves":          types.Int64Value(int64(len(p.Waves))),
		"lowest_healthy": types.Int64Value(int64(p.LowestHealthy)),
		"min_allowed":    types.Int64Value(int64(p.MinAllowed)),
		"max_nodes":      types.Int64Value(int64(p.MaxNodes)),
		"estimated":      types.StringValue(p.Estimated.Round(time.Second).String()),
	})
}

type lastRolloutModel struct {
	Outcome          types.String  `tfsdk:"outcome"`
	Started          types.String  `tfsdk:"started"`
	Finished         types.String  `tfsdk:"finished"`
	Replaced         types.Int64   `tfsdk:"replaced"`
	RolledBack       types.Bool    `tfsdk:"rolled_back"`
	Message          types.String  `tfsdk:"message"`
	NodeReadySeconds types.Float64 `tfsdk:"node_ready_seconds"`
	DrainSeconds     types.Float64 `tfsdk:"drain_seconds"`
}

// mean of ds in seconds, or null when nothing was measured.
func meanSeconds(ds []time.Duration) types.Float64 {
	if len(ds) == 0 {
		return types.Float64Null()
	}
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return types.Float64Value((sum / time.Duration(len(ds))).Seconds())
}

// lastRolloutValue records a run. Timings measured by an earlier run are kept
// when this one measured none (a scale-down drains but starts no node).
func lastRolloutValue(ctx context.Context, r rollout.Report, runErr error, prev types.Object) (types.Object, diag.Diagnostics) {
	msg := r.Message
	if msg == "" {
		if runErr != nil {
			msg, _, _ = strings.Cut(runErr.Error(), "\n")
		} else {
			msg = fmt.Sprintf("converged on %s: %d replaced, %d added, %d removed in %s",
				r.To, r.Replaced, r.Added, r.Removed, r.Duration().Round(100*time.Millisecond))
		}
	}
	m := lastRolloutModel{
		Outcome:          types.StringValue(string(r.Outcome)),
		Started:          types.StringValue(r.Started.UTC().Format(time.RFC3339)),
		Finished:         types.StringValue(r.Finished.UTC().Format(time.RFC3339)),
		Replaced:         types.Int64Value(int64(r.Replaced)),
		RolledBack:       types.BoolValue(r.Outcome == rollout.OutcomeRolledBack),
		Message:          types.StringValue(msg),
		NodeReadySeconds: meanSeconds(r.NodeReady),
		DrainSeconds:     meanSeconds(r.Drain),
	}
	if p, ok := lastRolloutOf(ctx, prev); ok {
		if m.NodeReadySeconds.IsNull() {
			m.NodeReadySeconds = p.NodeReadySeconds
		}
		if m.DrainSeconds.IsNull() {
			m.DrainSeconds = p.DrainSeconds
		}
	}
	return types.ObjectValueFrom(ctx, lastRolloutAttrTypes, m)
}

func lastRolloutOf(ctx context.Context, v types.Object) (lastRolloutModel, bool) {
	var m lastRolloutModel
	if v.IsNull() || v.IsUnknown() {
		return m, false
	}
	if d := v.As(ctx, &m, basetypes.ObjectAsOptions{}); d.HasError() {
		return m, false
	}
	return m, true
}

// timingsOf are the per-node estimates a preview uses: the last rollout's
// measurements when known, the engine's defaults otherwise.
//
// Without a drain step and before any drain was measured, removing a node
// takes only its stop time, so the drain estimate is removeEstimate rather
// than the engine's default for a real drain.
//
// Before any node start was measured, a node is estimated ready after boot
// plus the probes and min_ready the strategy demands, when boot is known.
func timingsOf(ctx context.Context, last types.Object, drains bool, s rollout.Strategy, boot time.Duration) rollout.Timings {
	var t rollout.Timings
	if !drains {
		t.Drain = removeEstimate
	}
	if boot > 0 {
		t.NodeReady = boot + time.Duration(s.HealthyThreshold)*s.ProbeInterval + s.MinReady
	}
	m, ok := lastRolloutOf(ctx, last)
	if !ok {
		return t
	}
	if !m.NodeReadySeconds.IsNull() && !m.NodeReadySeconds.IsUnknown() {
		t.NodeReady = time.Duration(m.NodeReadySeconds.ValueFloat64() * float64(time.Second))
	}
	if !m.DrainSeconds.IsNull() && !m.DrainSeconds.IsUnknown() {
		t.Drain = time.Duration(m.DrainSeconds.ValueFloat64() * float64(time.Second))
	}
	return t
}

// drains reports whether a drain step (command or webhook) is configured.
func (m *nodePoolModel) drains() bool {
	return m.Drain != nil && (!m.Drain.Command.IsNull() || m.Drain.Webhook != nil)
}

// parseImportID accepts "<state_dir>/<name>" or "<name>", each optionally
// followed by ":<port>". The port is needed for a pool that does not serve on
// the local backend's default port: the backend tells a booting node from a
// serving one by connecting to it. port is 0 when not given.
func parseImportID(id string) (dir, name string, port int, err error) {
	id = strings.TrimSpace(id)
	want := fmt.Errorf("import ID %q: want <state_dir>/<name> or <name>, optionally followed by :<port>, where name is %s", id, poolNameWant)
	dir, name = "", id
	if i := strings.LastIndex(id, "/"); i >= 0 {
		dir, name = id[:i], id[i+1:]
		if dir == "" {
			dir = "/"
		}
	}
	if n, p, ok := strings.Cut(name, ":"); ok {
		v, perr := strconv.Atoi(p)
		if perr != nil || v < 1 || v > 65535 {
			return "", "", 0, want
		}
		name, port = n, v
	}
	if !poolNameRE.MatchString(name) {
		return "", "", 0, want
	}
	return dir, name, port, nil
}
