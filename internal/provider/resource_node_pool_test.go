package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/noderoll/terraform-provider-noderoll/providers/local"
	"github.com/noderoll/terraform-provider-noderoll/rollout"
)

// poolConf renders a configuration of one local pool running the demo app.
// Timings are small so the suite runs in minutes: probes every 200ms, one
// passing probe, 300ms of min_ready.
type poolConf struct {
	stateDir    string
	name        string
	size        int
	image       string
	machineType string
	port        int
	rollout     string // extra lines in the rollout block
	extra       string // extra blocks in the resource
}

func (c poolConf) hcl() string {
	mt := c.machineType
	if mt == "" {
		mt = "small"
	}
	return fmt.Sprintf(`
provider "noderoll" {
  local {
    state_dir = %q
  }
}

resource "noderoll_node_pool" "test" {
  name         = %q
  size         = %d
  image        = %q
  machine_type = %q

  local {
    command = [%q, "--listen", "{{address}}:{{port}}", "--version", "{{image}}", "--node-id", "{{node_id}}"]
    port    = %d
  }
  rollout {
    min_ready     = "300ms"
    node_deadline = "5s"
    %s
  }
  health_check {
    http {
      path = "/healthz"
    }
    interval          = "200ms"
    timeout           = "200ms"
    healthy_threshold = 1
  }
  %s
}
`, c.stateDir, c.name, c.size, c.image, mt, testAppPath, c.port, c.rollout, c.extra)
}

// newPoolConf gives a test its own state directory and port, and stops
// whatever pool the test leaves behind.
func newPoolConf(t *testing.T, name string, port int) poolConf {
	t.Helper()
	dir := t.TempDir()
	t.Cleanup(func() {
		d := observer(t, dir, name, port)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := d.Delete(ctx); err != nil {
			t.Errorf("cleanup: deleting pool %s: %v", name, err)
		}
	})
	return poolConf{stateDir: dir, name: name, size: 3, image: "v1", port: port}
}

// observer is a local driver that only observes the pool.
func observer(t *testing.T, dir, name string, port int) *local.Driver {
	t.Helper()
	d, err := local.New(local.Options{StateDir: dir, Pool: name, Command: []string{"false"}, Port: port})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// version asks a node which version it runs; "" when it does not serve.
func version(addr string, port int) string {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get("http://" + net.JoinHostPort(addr, strconv.Itoa(port)) + "/healthz")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return ""
	}
	_, v, _ := strings.Cut(strings.TrimSpace(string(b)), "version=")
	return v
}

// checkServing checks, outside Terraform, that the pool has exactly size
// nodes and every one of them answers its health check with version want.
// It records the node IDs in ids when ids is not nil.
func checkServing(t *testing.T, c poolConf, size int, want string, ids *[]string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		p, err := observer(t, c.stateDir, c.name, c.port).Describe(context.Background())
		if err != nil {
			return err
		}
		if len(p.Nodes) != size {
			return fmt.Errorf("pool has %d nodes, want %d: %+v", len(p.Nodes), size, p.Nodes)
		}
		var got []string
		for _, n := range p.Nodes {
			if v := version(n.Address, c.port); v != want {
				return fmt.Errorf("node %s at %s serves version %q, want %q", n.ID, n.Address, v, want)
			}
			got = append(got, n.ID)
		}
		if ids != nil {
			*ids = got
		}
		return nil
	}
}

// checkReplaced fails unless no node of before is still in the pool: every
// process was replaced.
func checkReplaced(t *testing.T, c poolConf, before *[]string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		if len(*before) == 0 {
			return fmt.Errorf("no node IDs recorded before the rollout")
		}
		p, err := observer(t, c.stateDir, c.name, c.port).Describe(context.Background())
		if err != nil {
			return err
		}
		for _, n := range p.Nodes {
			for _, old := range *before {
				if n.ID == old {
					return fmt.Errorf("node %s was not replaced", old)
				}
			}
		}
		return nil
	}
}

// checkKept fails unless every node of before is still in the pool.
func checkKept(t *testing.T, c poolConf, before *[]string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		p, err := observer(t, c.stateDir, c.name, c.port).Describe(context.Background())
		if err != nil {
			return err
		}
		have := map[string]bool{}
		for _, n := range p.Nodes {
			have[n.ID] = true
		}
		for _, id := range *before {
			if !have[id] {
				return fmt.Errorf("node %s was replaced or removed; a scale must keep it", id)
			}
		}
		return nil
	}
}

// capacityWatch counts, beside the test, how many nodes answer their health
// check, the way a load balancer would see the pool, and keeps the lowest.
type capacityWatch struct {
	mu      sync.Mutex
	lowest  int
	most    int // most nodes that existed at once, serving or not
	samples int
	stop    chan struct{}
	done    chan struct{}
}

func watchCapacity(t *testing.T, c poolConf) *capacityWatch {
	w := &capacityWatch{lowest: -1, stop: make(chan struct{}), done: make(chan struct{})}
	d := observer(t, c.stateDir, c.name, c.port)
	go func() {
		defer close(w.done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-tick.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			p, err := d.Describe(ctx)
			cancel()
			if err != nil {
				continue // the engine holds the pool's lock: sample on the next tick
			}
			var wg sync.WaitGroup
			var mu sync.Mutex
			serving := 0
			for _, n := range p.Nodes {
				wg.Add(1)
				go func(addr string) {
					defer wg.Done()
					if version(addr, c.port) != "" {
						mu.Lock()
						serving++
						mu.Unlock()
					}
				}(n.Address)
			}
			wg.Wait()
			w.mu.Lock()
			if w.lowest < 0 || serving < w.lowest {
				w.lowest = serving
			}
			w.most = max(w.most, len(p.Nodes))
			w.samples++
			w.mu.Unlock()
		}
	}()
	t.Cleanup(w.Stop)
	return w
}

// Stop ends the watch and returns the lowest count and the samples taken.
func (w *capacityWatch) Stop() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

// check fails unless at least atLeast nodes served at every sample and no
// more than atMost nodes ever existed at once.
func (w *capacityWatch) check(atLeast, atMost int) resource.TestCheckFunc {
	return func(*terraform.State) error {
		w.Stop()
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.samples < 5 {
			return fmt.Errorf("capacity watch took only %d samples", w.samples)
		}
		if w.lowest < atLeast {
			return fmt.Errorf("during the rollout only %d nodes served at one moment, want at least %d", w.lowest, atLeast)
		}
		if w.most > atMost {
			return fmt.Errorf("during the rollout %d nodes existed at one moment, want at most %d", w.most, atMost)
		}
		return nil
	}
}

// checkGone is a CheckDestroy: the pool's state is gone and no node of it
// still serves.
func checkGone(t *testing.T, c poolConf, addrs *[]string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		ok, err := local.Exists(c.stateDir, c.name)
		if err != nil {
			return err
		}
		if ok {
			return fmt.Errorf("pool %s still exists in %s", c.name, c.stateDir)
		}
		for _, a := range *addrs {
			conn, err := net.DialTimeout("tcp", net.JoinHostPort(a, strconv.Itoa(c.port)), 500*time.Millisecond)
			if err == nil {
				conn.Close()
				return fmt.Errorf("a process still listens at %s:%d after destroy", a, c.port)
			}
		}
		return nil
	}
}

// recordAddresses keeps the node addresses in state, for checkGone.
func recordAddresses(addrs *[]string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		r := s.RootModule().Resources["noderoll_node_pool.test"]
		if r == nil {
			return fmt.Errorf("no noderoll_node_pool.test in state")
		}
		n, _ := strconv.Atoi(r.Primary.Attributes["nodes.#"])
		for i := 0; i < n; i++ {
			*addrs = append(*addrs, r.Primary.Attributes[fmt.Sprintf("nodes.%d.address", i)])
		}
		return nil
	}
}

func planValue(attr string, v knownvalue.Check) plancheck.PlanCheck {
	return plancheck.ExpectKnownValue("noderoll_node_pool.test", tfjsonpath.New("rollout_plan").AtMapKey(attr), v)
}

const res = "noderoll_node_pool.test"

// storeAttr copies an attribute from state into *dst.
func storeAttr(name string, dst *string) resource.TestCheckFunc {
	return resource.TestCheckResourceAttrWith(res, name, func(v string) error {
		*dst = v
		return nil
	})
}

// TestAccNodePool_lifecycle: create, roll the image, roll the machine type,
// scale, a no-op plan, a change that rolls nothing, import, destroy.
func TestAccNodePool_lifecycle(t *testing.T) {
	c := newPoolConf(t, "life", 39211)
	var ids, addrs []string
	var firstTemplate string
	var w *capacityWatch
	v2 := c
	v2.image = "v2"
	large := v2
	large.machineType = "large"
	scaled := large
	scaled.size = 5
	paused := scaled
	paused.rollout = `pause_between_waves = "1s"`

	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviders,
		CheckDestroy:             checkGone(t, c, &addrs),
		Steps: []resource.TestStep{
			{
				Config: c.hcl(),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionCreate),
					planValue("action", knownvalue.StringExact("create")),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(res, "id", "life"),
					resource.TestCheckResourceAttr(res, "nodes.#", "3"),
					resource.TestCheckResourceAttr(res, "nodes.0.healthy", "true"),
					resource.TestCheckResourceAttr(res, "nodes.2.healthy", "true"),
					resource.TestCheckResourceAttr(res, "last_rollout.outcome", "converged"),
					resource.TestCheckNoResourceAttr(res, "previous_template"),
					storeAttr("template", &firstTemplate),
					checkServing(t, c, 3, "v1", &ids),
				),
			},
			{
				// A new image rolls every node, one at a time (max_surge 1,
				// max_unavailable 0), never below 3 serving nodes.
				PreConfig: func() { w = watchCapacity(t, c) },
				Config:    v2.hcl(),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
					planValue("action", knownvalue.StringExact("roll")),
					planValue("replaced", knownvalue.Int64Exact(3)),
					planValue("waves", knownvalue.Int64Exact(3)),
					planValue("lowest_healthy", knownvalue.Int64Exact(3)),
					planValue("min_allowed", knownvalue.Int64Exact(3)),
					planValue("max_nodes", knownvalue.Int64Exact(4)),
					planValue("summary", knownvalue.StringRegexp(regexp.MustCompile(
						`^roll 3 node\(s\) from image=v1 machine_type=small to image=v2 machine_type=small in 3 wave\(s\)`))),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					func(s *terraform.State) error { return w.check(3, 4)(s) },
					checkReplaced(t, c, &ids),
					checkServing(t, c, 3, "v2", &ids),
					resource.TestCheckResourceAttr(res, "image", "v2"),
					resource.TestCheckResourceAttr(res, "last_rollout.outcome", "converged"),
					resource.TestCheckResourceAttr(res, "last_rollout.replaced", "3"),
					resource.TestCheckResourceAttrSet(res, "last_rollout.node_ready_seconds"),
					resource.TestCheckResourceAttrWith(res, "previous_template", func(v string) error {
						if v != firstTemplate {
							return fmt.Errorf("previous_template = %q, want the first template %q", v, firstTemplate)
						}
						return nil
					}),
				),
			},
			{
				// A new machine type rolls too.
				Config: large.hcl(),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					planValue("action", knownvalue.StringExact("roll")),
					planValue("replaced", knownvalue.Int64Exact(3)),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					checkReplaced(t, c, &ids),
					checkServing(t, c, 3, "v2", &ids),
					resource.TestCheckResourceAttr(res, "machine_type", "large"),
				),
			},
			{
				// A size change scales without replacing a node.
				Config: scaled.hcl(),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					planValue("action", knownvalue.StringExact("scale")),
					planValue("replaced", knownvalue.Int64Exact(0)),
					planValue("waves", knownvalue.Int64Exact(0)),
					planValue("summary", knownvalue.StringRegexp(regexp.MustCompile(`^scale from 3 to 5 node\(s\) on image=v2 machine_type=large without replacing any`))),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					checkKept(t, c, &ids),
					checkServing(t, c, 5, "v2", nil),
					resource.TestCheckResourceAttr(res, "nodes.#", "5"),
					resource.TestCheckResourceAttr(res, "last_rollout.replaced", "0"),
					recordAddresses(&addrs),
				),
			},
			{
				// Nothing changed: the plan is empty.
				Config:   scaled.hcl(),
				PlanOnly: true,
			},
			{
				// A setting that rolls nothing says so.
				Config:             paused.hcl(),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
					planValue("action", knownvalue.StringExact("none")),
					planValue("replaced", knownvalue.Int64Exact(0)),
					planValue("summary", knownvalue.StringExact("no rollout: 5 node(s) already on image=v2 machine_type=large")),
				}},
			},
			{
				// Import by <state_dir>/<name> adopts the pool as it is.
				Config:            scaled.hcl(),
				ResourceName:      res,
				ImportState:       true,
				ImportStateId:     fmt.Sprintf("%s/%s:%d", c.stateDir, c.name, c.port),
				ImportStateVerify: true,
				// Settings that live only in the configuration, and the
				// record of the last apply, cannot be read back from a pool.
				// The local block (command, env, port) is read back from the
				// pool's state directory.
				ImportStateVerifyIgnore: []string{"rollout", "health_check", "timeouts", "rollout_plan", "last_rollout", "previous_template"},
			},
		},
	})
}

// TestAccNodePool_brokenImageRollsBack: an image whose health check fails
// fails the apply, the pool is rolled back, and state and processes are on
// the old image.
func TestAccNodePool_brokenImageRollsBack(t *testing.T) {
	c := newPoolConf(t, "rollback", 39212)
	c.size = 2
	var ids, addrs []string
	broken := c
	broken.image = "v3"

	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviders,
		CheckDestroy:             checkGone(t, c, &addrs),
		Steps: []resource.TestStep{
			{
				Config: c.hcl(),
				Check:  resource.ComposeAggregateTestCheckFunc(checkServing(t, c, 2, "v1", &ids), recordAddresses(&addrs)),
			},
			{
				Config: broken.hcl(),
				ExpectError: regexp.MustCompile(`(?s)Node Pool Rollout Failed And Was Rolled Back.*status 500.*` +
					`The pool now: 2 nodes \(2 healthy\), image v1.*back on its previous template`),
			},
			{
				// State says v1, as the pool is: the v1 configuration plans nothing.
				Config:   c.hcl(),
				PlanOnly: true,
			},
			{
				// The v1 configuration applies as a no-op; the processes that
				// served before the failed rollout still do.
				Config: c.hcl(),
				Check: resource.ComposeAggregateTestCheckFunc(
					checkServing(t, c, 2, "v1", nil),
					checkKept(t, c, &ids),
					resource.TestCheckResourceAttr(res, "image", "v1"),
					resource.TestCheckResourceAttr(res, "last_rollout.outcome", "rolled_back"),
					resource.TestCheckResourceAttr(res, "last_rollout.rolled_back", "true"),
				),
			},
			{
				// An image whose nodes crash on start fails fast, with the
				// exit status, and is rolled back too.
				Config: func() string { c := c; c.image = "v3-crash"; return c.hcl() }(),
				ExpectError: regexp.MustCompile(`(?s)Node Pool Rollout Failed And Was Rolled Back.*exited with status 1.*` +
					`The pool now: 2 nodes \(2 healthy\), image v1`),
			},
			{
				// Trying the broken image again plans a roll again.
				Config:             broken.hcl(),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{
					planValue("action", knownvalue.StringExact("roll")),
				}},
			},
		},
	})
}

// TestAccNodePool_halt: on_failure = "halt" fails the apply and leaves the
// pool as it is; the state says it is not converged, and the next apply
// with the good image converges it.
func TestAccNodePool_halt(t *testing.T) {
	c := newPoolConf(t, "halt", 39213)
	c.size = 2
	c.rollout = `on_failure = "halt"`
	var addrs []string
	broken := c
	broken.image = "v3"

	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviders,
		CheckDestroy:             checkGone(t, c, &addrs),
		Steps: []resource.TestStep{
			{
				Config: c.hcl(),
				Check:  checkServing(t, c, 2, "v1", nil),
			},
			{
				Config:      broken.hcl(),
				ExpectError: regexp.MustCompile(`(?s)Node Pool Rollout Failed And Halted.*status 500.*not converged`),
			},
			{
				// The halted pool is not converged: the plan shows it.
				Config:             broken.hcl(),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
					plancheck.ExpectUnknownValue(res, tfjsonpath.New("nodes")),
				}},
			},
			{
				// Back to v1: the apply converges the pool on v1.
				Config: c.hcl(),
				Check: resource.ComposeAggregateTestCheckFunc(
					checkServing(t, c, 2, "v1", nil),
					resource.TestCheckResourceAttr(res, "image", "v1"),
					resource.TestCheckResourceAttr(res, "last_rollout.outcome", "converged"),
					recordAddresses(&addrs),
				),
			},
		},
	})
}

// errText matches a diagnostic's words however Terraform wraps its lines.
func errText(s string) *regexp.Regexp {
	words := strings.Fields(s)
	for i, w := range words {
		words[i] = regexp.QuoteMeta(w)
	}
	return regexp.MustCompile(strings.Join(words, `\s+`))
}

// TestAccNodePool_invalidConfigs: each bad configuration is rejected at
// plan time, before any node is touched, by a message naming the attribute,
// the bad value and what is valid.
func TestAccNodePool_invalidConfigs(t *testing.T) {
	dir := t.TempDir()
	const okAttrs = `name = "bad"
  size = 2
  image = "v1"
  machine_type = "small"`
	const okLocal = `local {
    command = ["app", "--listen", "{{address}}:{{port}}"]
    port = 39299
  }`
	const awsAttrs = `name = "bad"
  size = 2
  image = "ami-0123456789abcdef0"
  machine_type = "t3.small"`
	const okSubnets = `subnet_ids = ["subnet-0123456789abcdef0"]`
	awsBlock := func(lines string) string {
		return "aws_asg {\n    " + lines + "\n  }\n  health_check {\n    http { port = 8080 }\n  }"
	}
	const okLT = `launch_template_id = "lt-0123456789abcdef0"`
	cases := []struct {
		name, attrs, blocks, want string
	}{
		{"aws both templates", awsAttrs, awsBlock(okLT + "\n    launch_template_name = \"web\""),
			`aws_asg.launch_template_id and aws_asg.launch_template_name are both set (launch_template_name = "web"): want exactly one of them`},
		{"aws no subnets", awsAttrs, awsBlock(okLT), "aws_asg.subnet_ids is required to create the group of pool \"bad\""},
		{"aws no template", awsAttrs, awsBlock(`subnet_ids = ["subnet-0123456789abcdef0"]`),
			"aws_asg.launch_template_id or aws_asg.launch_template_name is required"},
		{"aws bad template id", awsAttrs, awsBlock(`launch_template_id = "web"`),
			`aws_asg.launch_template_id = "web" is invalid: want a launch template ID such as "lt-0123456789abcdef0"`},
		{"aws bad template name", awsAttrs, awsBlock(`launch_template_name = "a b"`),
			`aws_asg.launch_template_name = "a b" is invalid: want a launch template name`},
		{"aws bad region", awsAttrs, awsBlock(okLT + "\n    region = \"Ireland\""),
			`aws_asg.region = "Ireland" is invalid: want an AWS Region code such as "eu-west-1"`},
		{"aws bad subnet", awsAttrs, awsBlock(okLT + "\n    subnet_ids = [\"sub-1234\"]"),
			`aws_asg.subnet_ids[0] = "sub-1234" is invalid: want a subnet ID such as "subnet-0123456789abcdef0"`},
		{"aws bad target group", awsAttrs, awsBlock(okLT + "\n    target_group_arns = [\"arn:aws:elasticloadbalancing:eu-west-1:123:web\"]"),
			`aws_asg.target_group_arns[0] = "arn:aws:elasticloadbalancing:eu-west-1:123:web" is invalid: want a target group ARN`},
		{"aws elb health without target groups", awsAttrs, awsBlock(okLT + "\n    use_elb_health = true"),
			"aws_asg.use_elb_health = true is invalid without aws_asg.target_group_arns"},
		{"aws min over max", awsAttrs, awsBlock(okLT + "\n    min_size = 5\n    max_size = 2"),
			"aws_asg.min_size = 5 is invalid: want at most aws_asg.max_size (2)"},
		{"aws bad group name", awsAttrs, awsBlock(okLT + "\n    group_name = \"a:b\""),
			`aws_asg.group_name = "a:b" is invalid: want an Auto Scaling group name`},
		{"aws image not an AMI", okAttrs, awsBlock(okLT + "\n    " + okSubnets), `image = "v1" is invalid for an aws_asg pool: want an AMI ID`},
		{"aws machine type", strings.Replace(awsAttrs, `"t3.small"`, `"large"`, 1), awsBlock(okLT + "\n    " + okSubnets),
			`machine_type = "large" is invalid for an aws_asg pool: want an EC2 instance type such as "t3.small"`},
		{"aws no probe port", awsAttrs, "aws_asg {\n    " + okLT + "\n  }\n  health_check {\n    http { path = \"/ready\" }\n  }",
			"health_check.http.port is required for an aws_asg pool: the port your instances serve on"},
		{"aws no health check", awsAttrs, "aws_asg {\n    " + okLT + "\n  }",
			"A health_check block with an http or tcp block naming a port is required for an aws_asg pool"},
		{"cloud health on local", okAttrs, okLocal + `
  health_check { cloud = true }`, "health_check.cloud = true is invalid here: want it only in an aws_asg pool"},
		{"negative size", strings.Replace(okAttrs, "size = 2", "size = -1", 1), okLocal, "size value must be between 0 and 1000, got: -1"},
		{"huge size", strings.Replace(okAttrs, "size = 2", "size = 5000", 1), okLocal, "size value must be between 0 and 1000, got: 5000"},
		{"bad name", strings.Replace(okAttrs, `"bad"`, `"Web_1"`, 1), okLocal, "name want 1 to 63 lowercase letters, digits and hyphens"},
		{"blank image", strings.Replace(okAttrs, `"v1"`, `" "`, 1), okLocal, `image = " " is invalid: want a non-blank value`},
		{"surge not a number", okAttrs, okLocal + `
  rollout { max_surge = "abc" }`, `rollout.max_surge = "abc" is invalid: is not a whole number or percentage`},
		{"surge over 100%", okAttrs, okLocal + `
  rollout { max_surge = "150%" }`, `rollout.max_surge = "150%" is invalid: is over 100%`},
		{"negative unavailable", okAttrs, okLocal + `
  rollout { max_unavailable = "-1" }`, `rollout.max_unavailable = "-1" is invalid: is negative`},
		{"surge and unavailable zero", okAttrs, okLocal + `
  rollout {
    max_surge       = "0"
    max_unavailable = "0"
  }`, `rollout.max_surge = "0" with max_unavailable = "0" is invalid: the rollout could never move`},
		{"min_ready words", okAttrs, okLocal + `
  rollout { min_ready = "5 minutes" }`, `rollout.min_ready = "5 minutes" is invalid: not a duration`},
		{"node_deadline zero", okAttrs, okLocal + `
  rollout { node_deadline = "0s" }`, `rollout.node_deadline = "0s" is invalid: zero: want a positive duration`},
		{"node_deadline under min_ready", okAttrs, okLocal + `
  rollout {
    min_ready     = "5s"
    node_deadline = "1s"
  }`, "rollout.node_deadline = 1s is invalid: want more than min_ready (5s)"},
		{"pause not a duration", okAttrs, okLocal + `
  rollout { pause_between_waves = "soon" }`, `rollout.pause_between_waves = "soon" is invalid`},
		{"negative canaries", okAttrs, okLocal + `
  rollout { canary_count = -1 }`, "canary_count value must be between 0 and 1000, got: -1"},
		{"more canaries than nodes", okAttrs, okLocal + `
  rollout { canary_count = 5 }`, "rollout.canary_count = 5 is invalid: want at most size (2)"},
		{"unknown on_failure", okAttrs, okLocal + `
  rollout { on_failure = "retry" }`, `on_failure value must be one of: ["rollback" "halt"], got: "retry"`},
		{"http port zero", okAttrs, okLocal + `
  health_check {
    http { port = 0 }
  }`, "port value must be between 1 and 65535, got: 0"},
		{"relative path", okAttrs, okLocal + `
  health_check {
    http { path = "healthz" }
  }`, `health_check.http.path = "healthz" is invalid: want an absolute URL path`},
		{"ftp scheme", okAttrs, okLocal + `
  health_check {
    http { scheme = "ftp" }
  }`, `scheme value must be one of: ["http" "https"], got: "ftp"`},
		{"bad status", okAttrs, okLocal + `
  health_check {
    http { expect_status = [42] }
  }`, "value must be between 100 and 599, got: 42"},
		{"bad CA", okAttrs, okLocal + `
  health_check {
    http { ca_cert_pem = "not a cert" }
  }`, `health_check.http.ca_cert_pem = "not a cert" is invalid: want one or more PEM-encoded certificates`},
		{"http and tcp", okAttrs, okLocal + `
  health_check {
    http {}
    tcp {}
  }`, "These attributes cannot be configured together"},
		{"zero interval", okAttrs, okLocal + `
  health_check { interval = "0s" }`, `health_check.interval = "0s" is invalid: zero: want a positive duration`},
		{"timeout over interval", okAttrs, okLocal + `
  health_check {
    interval = "1s"
    timeout  = "2s"
  }`, `health_check.timeout = "2s" is invalid: want at most health_check.interval ("1s")`},
		{"zero threshold", okAttrs, okLocal + `
  health_check { healthy_threshold = 0 }`, "healthy_threshold value must be between 1 and 100, got: 0"},
		{"drain timeout words", okAttrs, okLocal + `
  drain { timeout = "forever" }`, `drain.timeout = "forever" is invalid: not a duration`},
		{"drain command and webhook", okAttrs, okLocal + `
  drain {
    command = ["true"]
    webhook { url = "https://hooks.example.com/drain" }
  }`, "These attributes cannot be configured together"},
		{"webhook url", okAttrs, okLocal + `
  drain {
    webhook { url = "not a url" }
  }`, `drain.webhook.url = "not a url" is invalid: want an absolute http:// or https:// URL`},
		{"webhook header", okAttrs, okLocal + `
  drain {
    webhook {
      url     = "https://hooks.example.com/drain"
      headers = { "Bad Header" = "x" }
    }
  }`, `drain.webhook.headers = "Bad Header" is invalid: want a header name`},
		{"drain placeholder", okAttrs, okLocal + `
  drain { command = ["kubectl", "drain", "{{nodeid}}"] }`, "unknown placeholder {{nodeid}}"},
		{"no backend", okAttrs, "", "Exactly one of these attributes must be configured: [local,aws_asg,gce_mig,azure_vmss]"},
		{"two backends", okAttrs, okLocal + `
  gce_mig { zone = "us-central1-a" }`, "Exactly one of these attributes must be configured: [local,aws_asg,gce_mig,azure_vmss]"},
		{"unsupported backend", okAttrs, `gce_mig { zone = "us-central1-a" }`, "The gce_mig block is not supported yet by this provider build"},
		{"local port zero", okAttrs, `local {
    command = ["app"]
    port    = 0
  }`, "port value must be between 1 and 65535, got: 0"},
		{"local without command", okAttrs, `local { port = 8080 }`, "local.command is required in a local block"},
		{"command placeholder typo", okAttrs, `local {
    command = ["app", "--listen", "{{adress}}:{{port}}"]
    port    = 8080
  }`, "unknown placeholder {{adress}}"},
		{"env name", okAttrs, `local {
    command = ["app"]
    port    = 8080
    env     = { "1BAD" = "x" }
  }`, "want an environment variable name"},
	}
	var steps []resource.TestStep
	for _, c := range cases {
		steps = append(steps, resource.TestStep{
			PreConfig: func() { t.Logf("case %q", c.name) },
			Config: fmt.Sprintf(`
provider "noderoll" {
  local { state_dir = %q }
}
resource "noderoll_node_pool" "test" {
  %s
  %s
}
`, dir, c.attrs, c.blocks),
			PlanOnly:    true,
			ExpectError: errText(c.want),
		})
	}
	// Provider-level aws_asg settings.
	for _, c := range []struct{ name, provider, want string }{
		{"endpoint not a URL", `endpoints { ec2 = "localhost:4566" }`, `aws_asg.endpoints.ec2 = "localhost:4566" is invalid: want an absolute http:// or https:// URL`},
		{"provider region", `region = "EU"`, `aws_asg.region = "EU" is invalid: want an AWS Region code`},
		{"request rate", `requests_per_second = 0`, "requests_per_second value must be between 1 and 1000, got: 0"},
		{"role ARN", `assume_role { role_arn = "noderoll" }`, `aws_asg.assume_role.role_arn = "noderoll" is invalid: want an IAM role ARN`},
	} {
		steps = append(steps, resource.TestStep{
			PreConfig: func() { t.Logf("case %q", c.name) },
			Config: fmt.Sprintf(`
provider "noderoll" {
  local { state_dir = %q }
  aws_asg {
    %s
  }
}
resource "noderoll_node_pool" "test" {
  %s
  %s
}
`, dir, c.provider, awsAttrs, awsBlock(okLT+"\n    "+okSubnets)),
			PlanOnly:    true,
			ExpectError: errText(c.want),
		})
	}
	if len(steps) < 20 {
		t.Fatalf("only %d invalid configurations", len(steps))
	}
	resource.ParallelTest(t, resource.TestCase{ProtoV6ProviderFactories: testAccProviders, Steps: steps})
	if entries, _ := os.ReadDir(dir); len(entries) > 0 {
		t.Errorf("an invalid configuration touched the state directory: %v", entries)
	}
}

// TestAccNodePool_interruptedApply runs the real Terraform CLI against the
// built provider, kills it with SIGKILL in the middle of a rollout (the CI
// job that dies), and checks that the next plan shows the pool as not
// converged and the next apply converges it.
func TestAccNodePool_interruptedApply(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test: set TF_ACC=1")
	}
	t.Parallel()
	c := newPoolConf(t, "interrupt", 39214)
	wd := t.TempDir()
	cliConfig := filepath.Join(wd, "dev.tfrc")
	if err := os.WriteFile(cliConfig, []byte(fmt.Sprintf(`provider_installation {
  dev_overrides {
    "noderoll/noderoll" = %q
  }
  direct {}
}
`, testProviderDir)), 0o644); err != nil {
		t.Fatal(err)
	}
	writeConfig := func(c poolConf) {
		t.Helper()
		body := `terraform {
  required_providers {
    noderoll = { source = "noderoll/noderoll" }
  }
}
` + c.hcl()
		if err := os.WriteFile(filepath.Join(wd, "main.tf"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "TF_") {
			env = append(env, e)
		}
	}
	env = append(env, "TF_CLI_CONFIG_FILE="+cliConfig, "CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1")
	command := func(args ...string) *exec.Cmd {
		cmd := exec.Command(testTerraformBin, append(args, "-no-color")...)
		cmd.Dir, cmd.Env = wd, env
		// Its own process group, so the kill takes the provider plugin too,
		// as a dying CI job would.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		return cmd
	}
	run := func(wantCode int, args ...string) string {
		t.Helper()
		out, err := command(args...).CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("terraform %v: %v", args, err)
		}
		if code != wantCode {
			t.Fatalf("terraform %v: exit code %d, want %d\n%s", args, code, wantCode, out)
		}
		return string(out)
	}
	obs := observer(t, c.stateDir, c.name, c.port)
	writeConfig(c)
	run(0, "apply", "-auto-approve")
	if err := checkServing(t, c, 3, "v1", nil)(nil); err != nil {
		t.Fatal(err)
	}
	before, err := obs.Describe(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	// Roll to v2 with a pause between waves, and kill Terraform once the
	// first new node is up while old ones still serve.
	v2 := c
	v2.image = "v2"
	v2.rollout = `pause_between_waves = "1s"`
	writeConfig(v2)
	apply := command("apply", "-auto-approve")
	var out strings.Builder
	apply.Stdout, apply.Stderr = &out, &out
	if err := apply.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-apply.Process.Pid, syscall.SIGKILL) })
	deadline := time.Now().Add(time.Minute)
	for {
		p, err := obs.Describe(context.Background())
		if err == nil && p.Template.ID != before.Template.ID && servingOn(p, p.Template.ID, c.port) >= 1 && servingOn(p, before.Template.ID, c.port) >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the rollout never reached a mixed pool:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := syscall.Kill(-apply.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = apply.Wait()
	mid, err := obs.Describe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if why := convergence(mid); why == "" {
		t.Fatalf("the pool converged although the apply was killed: %+v", mid)
	} else {
		t.Logf("after the kill: %s", why)
	}

	// The next plan shows the pool as not converged and proposes an update.
	plan := run(2, "plan", "-detailed-exitcode")
	for _, want := range []string{"not converged", "will be updated in-place", `-> "roll"`, "an earlier rollout did not finish"} {
		if !strings.Contains(plan, want) {
			t.Errorf("plan after the kill lacks %q:\n%s", want, plan)
		}
	}
	// The next apply finishes the rollout, logging each wave and node at
	// INFO and ending with a summary; then nothing is left to do.
	logPath := filepath.Join(wd, "apply.log")
	env = append(env, "TF_LOG_PROVIDER=INFO", "TF_LOG_PATH="+logPath)
	finish := run(0, "apply", "-auto-approve")
	env = env[:len(env)-2]
	if !strings.Contains(finish, "Warning: Node Pool Rollout Finished") {
		t.Errorf("the apply that finished the rollout printed no summary:\n%s", finish)
	}
	tflog, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"node pool: wave_started wave=", "node pool: node_added", "node pool: node_healthy node=", "node pool: node_removed node=", "node pool: finished"} {
		if !strings.Contains(string(tflog), want) {
			t.Errorf("the provider's INFO log lacks %q", want)
		}
	}
	if err := checkServing(t, c, 3, "v2", nil)(nil); err != nil {
		t.Fatal(err)
	}
	if p, err := obs.Describe(context.Background()); err != nil || convergence(p) != "" {
		t.Fatalf("after the second apply: %v, %s", err, convergence(p))
	}
	run(0, "plan", "-detailed-exitcode")
	run(0, "destroy", "-auto-approve")
	if ok, err := local.Exists(c.stateDir, c.name); err != nil || ok {
		t.Fatalf("after destroy the pool exists: %v, %v", ok, err)
	}
}

// servingOn counts the nodes on template tpl that answer their health check.
func servingOn(p rollout.Pool, tpl string, port int) int {
	n := 0
	for _, node := range p.Nodes {
		if node.Template == tpl && version(node.Address, port) != "" {
			n++
		}
	}
	return n
}

// TestAccNodePool_existingPoolIsNotAdopted: creating a pool whose name is
// taken fails and says how to import it, and leaves the pool alone.
func TestAccNodePool_existingPoolIsNotAdopted(t *testing.T) {
	c := newPoolConf(t, "taken", 39215)
	c.size, c.image = 1, "v2"
	var before, addrs []string
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviders,
		CheckDestroy:             checkGone(t, c, &addrs),
		Steps: []resource.TestStep{
			{
				PreConfig: func() {
					// Someone else's pool of one v2 node, made with the engine directly.
					d, err := local.New(local.Options{StateDir: c.stateDir, Pool: c.name, Port: c.port,
						Command: []string{testAppPath, "--listen", "{{address}}:{{port}}", "--version", "{{image}}"}})
					if err != nil {
						t.Fatal(err)
					}
					s := rollout.DefaultStrategy()
					s.ProbeInterval, s.HealthyThreshold, s.MinReady = 100*time.Millisecond, 1, 0
					ex, err := rollout.New(rollout.Options{Driver: d, Strategy: s,
						Prober: rollout.ProberFunc(func(_ context.Context, n rollout.Node) error {
							if version(n.Address, c.port) == "" {
								return fmt.Errorf("not serving")
							}
							return nil
						})})
					if err != nil {
						t.Fatal(err)
					}
					if _, err := ex.Apply(context.Background(), rollout.Spec{Size: 1, Image: "v2", MachineType: "small"}); err != nil {
						t.Fatal(err)
					}
					if err := checkServing(t, c, 1, "v2", &before)(nil); err != nil {
						t.Fatal(err)
					}
				},
				Config: c.hcl(),
				ExpectError: regexp.MustCompile(`(?s)Node Pool Already Exists.*terraform import <address>\s+` +
					regexp.QuoteMeta(fmt.Sprintf("%s/%s:%d", c.stateDir, c.name, c.port))),
			},
			{
				// The pool was not touched.
				PreConfig: func() {
					if err := checkServing(t, c, 1, "v2", nil)(nil); err != nil {
						t.Fatal(err)
					}
					if err := checkKept(t, c, &before)(nil); err != nil {
						t.Fatal(err)
					}
				},
				Config:             c.hcl(),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
			{
				// Import adopts it, with the state recording it as it is.
				Config:             c.hcl(),
				ResourceName:       res,
				ImportState:        true,
				ImportStateId:      fmt.Sprintf("%s/%s:%d", c.stateDir, c.name, c.port),
				ImportStatePersist: true,
				ImportStateCheck: func(s []*terraform.InstanceState) error {
					if len(s) != 1 || s[0].Attributes["image"] != "v2" || s[0].Attributes["size"] != "1" || s[0].Attributes["nodes.0.healthy"] != "true" {
						return fmt.Errorf("imported state: %v", s)
					}
					// The command the pool runs is read back, unexpanded.
					if a := s[0].Attributes; a["local.command.#"] != "5" || a["local.command.4"] != "{{image}}" || a["local.command.0"] != testAppPath || a["local.command.2"] != "{{address}}:{{port}}" ||
						a["local.port"] != strconv.Itoa(c.port) {
						return fmt.Errorf("imported local block: %v", a)
					}
					addrs = append(addrs, s[0].Attributes["nodes.0.address"])
					return nil
				},
			},
			{
				// The imported command lacks the configuration's --node-id:
				// the plan knows it and previews a roll of the one node.
				Config:             c.hcl(),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{
					planValue("action", knownvalue.StringExact("roll")),
					planValue("replaced", knownvalue.Int64Exact(1)),
					planValue("summary", knownvalue.StringRegexp(regexp.MustCompile(`\(previous local command/env\) to image=v2`))),
				}},
			},
		},
	})
}

// TestAccNodePool_updateTimeout: a rollout that outlives timeouts.update
// stops where it is; state shows the pool as not converged, and the next
// apply, with time enough, finishes it.
func TestAccNodePool_updateTimeout(t *testing.T) {
	c := newPoolConf(t, "timeout", 39216)
	c.size = 2
	var addrs []string
	short := c
	short.image = "v2"
	short.rollout = `pause_between_waves = "2s"`
	short.extra = `timeouts {
    update = "1500ms"
  }`
	enough := short
	enough.extra = ""

	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviders,
		CheckDestroy:             checkGone(t, c, &addrs),
		Steps: []resource.TestStep{
			{Config: c.hcl(), Check: checkServing(t, c, 2, "v1", nil)},
			{
				Config:      short.hcl(),
				ExpectError: regexp.MustCompile(`(?s)Node Pool Rollout Interrupted.*not converged.*Apply again`),
			},
			{
				Config:             short.hcl(),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{
					planValue("action", knownvalue.StringExact("roll")),
				}},
			},
			{
				Config: enough.hcl(),
				Check: resource.ComposeAggregateTestCheckFunc(
					checkServing(t, c, 2, "v2", nil),
					resource.TestCheckResourceAttr(res, "image", "v2"),
					recordAddresses(&addrs),
				),
			},
		},
	})
}

// TestAccNodePool_deadNodeRepaired: a node killed outside Terraform makes
// the pool not converged at the next refresh, so the plan shows an update;
// the apply replaces the dead node and the pool converges with size serving
// nodes, the surviving one kept.
func TestAccNodePool_deadNodeRepaired(t *testing.T) {
	c := newPoolConf(t, "repair", 39217)
	c.size = 2
	var ids, addrs []string
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviders,
		CheckDestroy:             checkGone(t, c, &addrs),
		Steps: []resource.TestStep{
			{Config: c.hcl(), Check: resource.ComposeAggregateTestCheckFunc(checkServing(t, c, 2, "v1", &ids), recordAddresses(&addrs))},
			{
				PreConfig: func() {
					pid := nodePID(t, ids[0])
					if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
						t.Fatal(err)
					}
				},
				Config:             c.hcl(),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(res, tfjsonpath.New("image"), knownvalue.StringExact("v1")),
				}},
			},
			{
				// The apply repairs the pool: the dead node is replaced,
				// the live one kept, and the state converges on v1.
				Config: c.hcl(),
				Check: resource.ComposeAggregateTestCheckFunc(
					checkServing(t, c, 2, "v1", nil),
					func(*terraform.State) error {
						p, err := observer(t, c.stateDir, c.name, c.port).Describe(context.Background())
						if err != nil {
							return err
						}
						if why := convergence(p); why != "" {
							return fmt.Errorf("pool not converged after the repair: %s", why)
						}
						var have []string
						for _, n := range p.Nodes {
							have = append(have, n.ID)
						}
						if slices.Contains(have, ids[0]) || !slices.Contains(have, ids[1]) {
							return fmt.Errorf("nodes after the repair %v: want the dead %s replaced and %s kept", have, ids[0], ids[1])
						}
						return nil
					},
					resource.TestCheckResourceAttr(res, "image", "v1"),
					resource.TestCheckResourceAttr(res, "nodes.#", "2"),
					resource.TestCheckResourceAttr(res, "nodes.0.healthy", "true"),
					resource.TestCheckResourceAttr(res, "nodes.1.healthy", "true"),
					resource.TestCheckResourceAttr(res, "last_rollout.outcome", "converged"),
					recordAddresses(&addrs),
				),
			},
			{
				// Converged: nothing more to do.
				Config:   c.hcl(),
				PlanOnly: true,
			},
		},
	})
}

// nodePID finds the demo app process of node id: its command line carries
// --node-id <id>.
func nodePID(t *testing.T, id string) int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if len(args) > 0 && args[0] == testAppPath {
			for i := 0; i+1 < len(args); i++ {
				if args[i] == "--node-id" && args[i+1] == id {
					return pid
				}
			}
		}
	}
	t.Fatalf("no process for node %s", id)
	return 0
}

// TestAccNodePool_commandChangeRolls: on the local backend the command and
// env are part of the node template, so changing them rolls every node, and
// the plan says so although image and machine type did not change.
func TestAccNodePool_commandChangeRolls(t *testing.T) {
	c := newPoolConf(t, "command", 39218)
	c.size = 2
	var ids, addrs []string
	cfg := strings.Replace(c.hcl(), "    port    = ", "    env     = { GREETING = \"hello\" }\n    port    = ", 1)
	if cfg == c.hcl() {
		t.Fatal("could not add env to the configuration")
	}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviders,
		CheckDestroy:             checkGone(t, c, &addrs),
		Steps: []resource.TestStep{
			{Config: c.hcl(), Check: checkServing(t, c, 2, "v1", &ids)},
			{
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					planValue("action", knownvalue.StringExact("roll")),
					planValue("replaced", knownvalue.Int64Exact(2)),
					planValue("summary", knownvalue.StringRegexp(regexp.MustCompile(`from image=v1 machine_type=small \(previous local command/env\) to image=v1 machine_type=small in 2 wave`))),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					checkReplaced(t, c, &ids),
					checkServing(t, c, 2, "v1", nil),
					recordAddresses(&addrs),
				),
			},
		},
	})
}

// TestAccNodePool_drains: every old node is drained before it is removed,
// by a command and then by a webhook.
func TestAccNodePool_drains(t *testing.T) {
	c := newPoolConf(t, "drains", 39219)
	c.size = 2
	drained := t.TempDir()
	var ids, addrs []string

	var mu sync.Mutex
	var hooked []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Node struct {
				ID string `json:"id"`
			} `json:"node"`
		}
		if r.Header.Get("Authorization") != "Bearer t0ken" || json.NewDecoder(r.Body).Decode(&body) != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		mu.Lock()
		hooked = append(hooked, body.Node.ID)
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)

	byCommand := c
	byCommand.image = "v2"
	byCommand.extra = fmt.Sprintf(`drain {
    timeout = "5s"
    command = ["touch", "%s/{{node_id}}"]
  }`, drained)
	byWebhook := byCommand
	byWebhook.machineType = "large"
	byWebhook.extra = fmt.Sprintf(`drain {
    timeout = "5s"
    webhook {
      url     = "%s/drain"
      headers = { Authorization = "Bearer t0ken" }
    }
  }`, srv.URL)

	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviders,
		CheckDestroy:             checkGone(t, c, &addrs),
		Steps: []resource.TestStep{
			{Config: c.hcl(), Check: checkServing(t, c, 2, "v1", &ids)},
			{
				Config: byCommand.hcl(),
				Check: resource.ComposeAggregateTestCheckFunc(
					checkServing(t, c, 2, "v2", nil),
					resource.TestCheckResourceAttrSet(res, "last_rollout.drain_seconds"),
					func(*terraform.State) error {
						for _, id := range ids {
							if _, err := os.Stat(filepath.Join(drained, id)); err != nil {
								return fmt.Errorf("old node %s was removed without its drain command: %v", id, err)
							}
						}
						return nil
					},
					checkServing(t, c, 2, "v2", &ids),
				),
			},
			{
				Config: byWebhook.hcl(),
				Check: resource.ComposeAggregateTestCheckFunc(
					checkServing(t, c, 2, "v2", nil),
					recordAddresses(&addrs),
					func(*terraform.State) error {
						mu.Lock()
						defer mu.Unlock()
						for _, id := range ids {
							if !slices.Contains(hooked, id) {
								return fmt.Errorf("old node %s was removed without its drain webhook (webhook saw %v)", id, hooked)
							}
						}
						return nil
					},
				),
			},
		},
	})
}
