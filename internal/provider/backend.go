package provider

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/noderoll/terraform-provider-noderoll/providers/local"
	"github.com/noderoll/terraform-provider-noderoll/rollout"
	"github.com/noderoll/terraform-provider-noderoll/rollout/drain"
	"github.com/noderoll/terraform-provider-noderoll/rollout/health"
)

// backend is what one operation needs: the pool's driver and how its nodes
// are probed and drained, built from the resource's model.
type backend struct {
	pool     string
	driver   rollout.Driver
	prober   rollout.Prober
	drainer  rollout.Drainer
	strategy rollout.Strategy
	// logPath names the file holding a node's output, for failure reports.
	logPath func(id string) string
	// importID is what `terraform import` takes to adopt this pool.
	importID string
	// bootEstimate is how long a node takes to start serving before the
	// first one was measured; 0 leaves the engine's default estimate.
	bootEstimate time.Duration
	// group and region are where an aws_asg pool lives ("" for local).
	group, region string
}

// localBootEstimate: a local node is a process that listens within a second.
const localBootEstimate = time.Second

// observeOnlyCommand is given to a local driver that only observes (Read
// after an import, before the configuration's command is known): Describe
// never starts a node, and if anything ever did, it would fail loudly.
var observeOnlyCommand = []string{"false"}

// backend builds the local backend for m. forRun demands everything a run
// needs; otherwise a driver that can observe the pool is enough.
func (r *nodePoolResource) backend(ctx context.Context, m *nodePoolModel, forRun bool) (*backend, diag.Diagnostics) {
	var diags diag.Diagnostics
	if r.data == nil {
		diags.AddError("Provider Not Configured", "The noderoll provider was not configured before the node pool was used. This is a bug in the provider: please report it.")
		return nil, diags
	}
	if m.AWSASG != nil {
		return r.awsBackend(ctx, m, forRun)
	}
	if m.Local == nil {
		// Plans reject gce_mig and azure_vmss; a state from a later build could hold one.
		diags.AddError("Backend Not Supported Yet",
			fmt.Sprintf("Pool %q has neither a local nor an aws_asg block, and the other backends are not supported yet by this provider build.", m.Name.ValueString()))
		return nil, diags
	}
	l := m.Local
	dir := r.data.LocalStateDir
	if !l.StateDir.IsNull() && !l.StateDir.IsUnknown() {
		d, err := absDir(l.StateDir.ValueString())
		if err != nil {
			diags.AddAttributeError(path.Root("local").AtName("state_dir"), "Invalid Local State Directory", err.Error())
			return nil, diags
		}
		dir = d
	}
	opts := local.Options{StateDir: dir, Pool: m.Name.ValueString(), Command: observeOnlyCommand}
	if !l.Command.IsNull() && !l.Command.IsUnknown() {
		diags.Append(l.Command.ElementsAs(context.Background(), &opts.Command, false)...)
	} else if forRun {
		diags.AddAttributeError(path.Root("local").AtName("command"), "Missing Local Command", "local.command must be known to start nodes.")
	}
	if !l.Env.IsNull() && !l.Env.IsUnknown() {
		diags.Append(l.Env.ElementsAs(context.Background(), &opts.Env, false)...)
	}
	port := int64(local.DefaultPort)
	if !l.Port.IsNull() && !l.Port.IsUnknown() {
		port = l.Port.ValueInt64()
	}
	opts.Port = int(port)
	if diags.HasError() {
		return nil, diags
	}
	d, err := local.New(opts)
	if err != nil {
		diags.AddError("Invalid Local Backend", fmt.Sprintf("Pool %q: %v", m.Name.ValueString(), err))
		return nil, diags
	}
	prober, err := m.prober(proberDefaults(port))
	if err != nil {
		diags.Append(proberDiagnostics(prober, err)...)
		return nil, diags
	}
	drainer, err := m.drainer()
	if err != nil {
		diags.Append(engineDrainDiagnostics(err)...)
		return nil, diags
	}
	return &backend{pool: m.Name.ValueString(), driver: d, prober: prober, drainer: drainer, strategy: m.strategy(), logPath: d.LogPath,
		importID: fmt.Sprintf("%s/%s:%d", dir, opts.Pool, opts.Port), bootEstimate: localBootEstimate}, diags
}

// executor returns an engine run on this backend that logs every step.
func (b *backend) executor(ctx context.Context, s rollout.Strategy) (*rollout.Executor, error) {
	ex, err := rollout.New(rollout.Options{
		Driver:   b.driver,
		Strategy: s,
		Prober:   b.prober,
		Drainer:  b.drainer,
		OnEvent:  func(e rollout.Event) { logEvent(ctx, b.pool, e) },
	})
	if err != nil {
		return nil, fmt.Errorf("pool %q: %w", b.pool, err)
	}
	return ex, nil
}

// proberConfig is what the backend supplies to a health check that leaves
// things out.
type proberConfig struct {
	port int64 // 0: the backend has no port of its own
	// cloud: the backend reports the cloud's health verdict (Node.CloudHealth),
	// which every probe then checks first.
	cloud bool
}

// missingPortError says a probe has no port: the backend has none to offer.
type missingPortError struct{ path path.Path }

func (e missingPortError) Error() string {
	what := e.path.String()
	if what == "health_check" {
		what = "A health_check block with an http or tcp block naming a port"
	}
	return what + " is required for an aws_asg pool: the port your instances serve on (or set health_check.cloud = true to rely on the group's health status alone)"
}

func proberDefaults(port int64) proberConfig { return proberConfig{port: port} }

// prober builds the health check: http, tcp, or by default a TCP connect
// to the backend's port. The returned error holds the probers' own
// FieldErrors, which proberDiagnostics maps to attribute paths.
func (m *nodePoolModel) prober(c proberConfig) (rollout.Prober, error) {
	p, err := m.probe(c)
	if err != nil || !c.cloud {
		return p, err
	}
	if p == nil {
		return m.cloudProber(), nil
	}
	return health.Multi{m.cloudProber(), p}, nil // the cheap check first
}

// probe builds the network probe; nil (and no error) when a cloud backend's
// pool relies on the cloud's verdict alone.
func (m *nodePoolModel) probe(c proberConfig) (rollout.Prober, error) {
	timeout := m.probeTimeout()
	s := m.strategy()
	if s.ProbeInterval > 0 && timeout > s.ProbeInterval {
		timeout = s.ProbeInterval
	}
	h := m.HealthCheck
	if h != nil && h.HTTP != nil {
		o := health.HTTPOptions{Port: int(c.port), Path: defaultHTTPPath, Scheme: "http", Timeout: timeout}
		x := h.HTTP
		if !x.Port.IsNull() && !x.Port.IsUnknown() {
			o.Port = int(x.Port.ValueInt64())
		} else if c.port == 0 {
			return nil, missingPortError{path.Root("health_check").AtName("http").AtName("port")}
		}
		if !x.Path.IsNull() && !x.Path.IsUnknown() {
			o.Path = x.Path.ValueString()
		}
		if !x.Scheme.IsNull() && !x.Scheme.IsUnknown() {
			o.Scheme = x.Scheme.ValueString()
		}
		if !x.ExpectStatus.IsNull() && !x.ExpectStatus.IsUnknown() {
			var codes []int64
			_ = x.ExpectStatus.ElementsAs(context.Background(), &codes, false) // element type is fixed by the schema
			for _, c := range codes {
				o.ExpectStatus = append(o.ExpectStatus, int(c))
			}
		}
		if !x.BodyContains.IsNull() && !x.BodyContains.IsUnknown() {
			o.BodyContains = x.BodyContains.ValueString()
		}
		if !x.CACertPEM.IsNull() && !x.CACertPEM.IsUnknown() {
			o.CACertPEM = []byte(x.CACertPEM.ValueString())
		}
		return health.NewHTTP(o)
	}
	port := c.port
	if h != nil && h.TCP != nil && !h.TCP.Port.IsNull() && !h.TCP.Port.IsUnknown() {
		port = h.TCP.Port.ValueInt64()
	}
	if port == 0 {
		if h != nil && h.TCP == nil && h.Cloud.ValueBool() {
			return nil, nil
		}
		p := path.Root("health_check").AtName("tcp").AtName("port")
		if h == nil || h.TCP == nil {
			p = path.Root("health_check")
		}
		return nil, missingPortError{p}
	}
	return health.NewTCP(health.TCPOptions{Port: int(port), Timeout: timeout})
}

// proberDiagnostics maps a prober's FieldErrors to attribute errors.
func proberDiagnostics(_ rollout.Prober, err error) diag.Diagnostics {
	var diags diag.Diagnostics
	if err == nil {
		return diags
	}
	for _, e := range unjoin(err) {
		var mp missingPortError
		if errors.As(e, &mp) {
			diags.AddAttributeError(mp.path, "Missing Health Check Port", e.Error()+".")
			continue
		}
		var fe *rollout.FieldError
		if errors.As(e, &fe) {
			p := path.Root("health_check").AtName("http").AtName(fe.Field)
			if fe.Field == "timeout" {
				p = path.Root("health_check").AtName("timeout")
			}
			diags.AddAttributeError(p, "Invalid Attribute Value", fmt.Sprintf("%s = %s is invalid: %s.", p, fe.Value, fe.Want))
			continue
		}
		diags.AddAttributeError(path.Root("health_check"), "Invalid Health Check", e.Error())
	}
	return diags
}

// drainer builds the drain step, bounded by drain.timeout.
func (m *nodePoolModel) drainer() (rollout.Drainer, error) {
	d := m.Drain
	var dr rollout.Drainer = drain.None{}
	if d != nil && !d.Command.IsNull() && !d.Command.IsUnknown() {
		var argv []string
		_ = d.Command.ElementsAs(context.Background(), &argv, false) // element type is fixed by the schema
		c, err := drain.NewCommand(drain.CommandOptions{Argv: argv})
		if err != nil {
			return nil, err
		}
		dr = c
	}
	if d != nil && d.Webhook != nil {
		w, err := webhookDrainer(d.Webhook)
		if err != nil {
			return nil, err
		}
		dr = w
	}
	return drain.WithTimeout(dr, m.strategy().DrainTimeout), nil
}

func engineDrainDiagnostics(err error) diag.Diagnostics {
	var diags diag.Diagnostics
	for _, e := range unjoin(err) {
		var fe *rollout.FieldError
		if errors.As(e, &fe) {
			p := path.Root("drain").AtName(fe.Field)
			if fe.Field == "url" || fe.Field == "headers" {
				p = path.Root("drain").AtName("webhook").AtName(fe.Field)
			}
			diags.AddAttributeError(p, "Invalid Attribute Value", fmt.Sprintf("%s = %s is invalid: %s.", p, fe.Value, fe.Want))
			continue
		}
		diags.AddAttributeError(path.Root("drain"), "Invalid Drain", e.Error())
	}
	return diags
}

// unjoin splits an errors.Join into its parts.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// probeAll probes every running node once, concurrently, so Read can say
// which nodes serve. A node the backend does not report running is not probed.
func probeAll(ctx context.Context, p rollout.Prober, nodes []rollout.Node) map[string]bool {
	out := make(map[string]bool, len(nodes))
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for _, n := range nodes {
		if n.State != rollout.NodeRunning {
			continue
		}
		wg.Add(1)
		go func(n rollout.Node) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			ok := p.Probe(ctx, n) == nil
			mu.Lock()
			out[n.ID] = ok
			mu.Unlock()
		}(n)
	}
	wg.Wait()
	return out
}

// localPlaceholders are the local backend's command placeholders.
var localPlaceholders = map[string]bool{
	"{{image}}": true, "{{machine_type}}": true, "{{address}}": true, "{{port}}": true, "{{node_id}}": true, "{{pool}}": true,
}

var placeholderRE = regexp.MustCompile(`\{\{[^}]*\}\}`)

// placeholders rejects a local command argument with an unknown placeholder,
// so a typo fails the plan instead of reaching a node's argv.
func placeholders() validator.String {
	return stringCheck{desc: "a command argument using only known placeholders", check: func(s string) string {
		for _, p := range placeholderRE.FindAllString(s, -1) {
			if !localPlaceholders[p] {
				return "unknown placeholder " + p + ": want {{image}}, {{machine_type}}, {{address}}, {{port}}, {{node_id}} or {{pool}}"
			}
		}
		if strings.TrimSpace(s) == "" {
			return "want a non-blank argument"
		}
		return ""
	}}
}

// importLocal adopts an existing local pool, with the command, env and port
// its state directory records. The rollout, health_check and drain blocks
// come from the configuration at the next apply.
func (r *nodePoolResource) importLocal(ctx context.Context, dir, name string, port int, resp *resource.ImportStateResponse) diag.Diagnostics {
	var diags diag.Diagnostics
	if r.data == nil {
		diags.AddError("Provider Not Configured", "The noderoll provider must be configured to import a pool.")
		return diags
	}
	stateDir := types.StringNull()
	abs := r.data.LocalStateDir
	if dir != "" {
		d, err := absDir(dir)
		if err != nil {
			diags.AddError("Invalid Import ID", err.Error())
			return diags
		}
		abs = d
		if d != r.data.LocalStateDir {
			stateDir = types.StringValue(d) // the provider's own directory needs no override
		}
	}
	ok, err := local.Exists(abs, name)
	if err != nil {
		diags.AddError("Could Not Import Node Pool", fmt.Sprintf("Looking for pool %q in %s: %v", name, abs, err))
		return diags
	}
	if !ok {
		diags.AddError("Node Pool Not Found",
			fmt.Sprintf("There is no local pool %q in %s. Import by <state_dir>/<name>, or by <name> for a pool in the provider's local.state_dir.", name, abs))
		return diags
	}
	// The pool's state directory records its command, env and port: read
	// them back so the import round-trips and the next plan rolls nothing
	// unless the configuration differs.
	info, err := local.Inspect(ctx, abs, name)
	if err != nil {
		diags.AddError("Could Not Import Node Pool", fmt.Sprintf("Reading pool %q in %s: %v", name, abs, err))
		return diags
	}
	l := localModel{
		Command:  types.ListNull(types.StringType),
		Port:     types.Int64Null(),
		Env:      types.MapNull(types.StringType),
		StateDir: stateDir,
	}
	if len(info.Command) > 0 {
		v, d := types.ListValueFrom(ctx, types.StringType, info.Command)
		diags.Append(d...)
		l.Command = v
	}
	if len(info.Env) > 0 {
		v, d := types.MapValueFrom(ctx, types.StringType, info.Env)
		diags.Append(d...)
		l.Env = v
	}
	switch {
	case port != 0:
		l.Port = types.Int64Value(int64(port))
	case info.Port != 0:
		l.Port = types.Int64Value(int64(info.Port))
	}
	diags.Append(resp.State.SetAttribute(ctx, path.Root("id"), name)...)
	diags.Append(resp.State.SetAttribute(ctx, path.Root("name"), name)...)
	diags.Append(resp.State.SetAttribute(ctx, path.Root("local"), l)...)
	return diags
}

// webhookDrainer builds the webhook drain step.
func webhookDrainer(w *drainWebhookModel) (rollout.Drainer, error) {
	o := drain.WebhookOptions{URL: w.URL.ValueString()}
	if !w.Headers.IsNull() && !w.Headers.IsUnknown() {
		_ = w.Headers.ElementsAs(context.Background(), &o.Headers, false) // element type is fixed by the schema
	}
	return drain.NewWebhook(o)
}
