package drain

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/noderoll/terraform-provider-noderoll/rollout"
)

// outputTail is how much of a command's combined output an error carries.
const outputTail = 4 << 10

// waitDelay bounds how long Drain waits for output pipes after the command
// exited or was killed: a background process that escaped the process group
// (setsid) and holds stdout open must not keep the drain hanging.
const waitDelay = 2 * time.Second

// CommandOptions configures a Command drainer.
type CommandOptions struct {
	// Argv is the program and its arguments, run directly, with no shell.
	// In every argument the placeholders {{node_id}}, {{address}}, {{zone}}
	// and {{template}} are replaced by the node's values; a value is always
	// one argument, whatever characters it holds. Example:
	// ["kubectl", "drain", "--ignore-daemonsets", "{{node_id}}"].
	Argv []string
	// Env adds KEY=VALUE entries (placeholders allowed in values) to the
	// environment the command inherits. NODEROLL_NODE_ID, NODEROLL_NODE_ADDRESS,
	// NODEROLL_NODE_ZONE and NODEROLL_NODE_TEMPLATE are always set.
	Env []string
}

// Command drains a node by running a program. It runs in its own process
// group, and when the context ends the whole group is killed, so children
// the command started (kubectl, a sleep in a shell loop) go with it. Exit
// status 0 means drained. Safe for concurrent use.
type Command struct {
	argv []string
	env  []string
}

var _ rollout.Drainer = (*Command)(nil)

var placeholderRe = regexp.MustCompile(`\{\{[^}]*\}\}`)

var placeholders = map[string]func(rollout.Node) string{
	"{{node_id}}":  func(n rollout.Node) string { return n.ID },
	"{{address}}":  func(n rollout.Node) string { return n.Address },
	"{{zone}}":     func(n rollout.Node) string { return n.Zone },
	"{{template}}": func(n rollout.Node) string { return n.Template },
}

// NewCommand validates o and returns the drainer. Unknown placeholders are
// an error here, not a literal "{{nodeid}}" passed to kubectl at 3 a.m.
func NewCommand(o CommandOptions) (*Command, error) {
	var errs []error
	bad := func(field, value, want string) {
		errs = append(errs, &rollout.FieldError{Field: field, Value: value, Want: want})
	}
	if len(o.Argv) == 0 || o.Argv[0] == "" {
		bad("command", fmt.Sprintf("%q", o.Argv), `want the program and its arguments, such as ["kubectl", "drain", "{{node_id}}"]`)
	}
	checkPlaceholders := func(field, s string) {
		for _, p := range placeholderRe.FindAllString(s, -1) {
			if placeholders[p] == nil {
				bad(field, strconv.Quote(s), "unknown placeholder "+p+": want {{node_id}}, {{address}}, {{zone}} or {{template}}")
			}
		}
	}
	for _, a := range o.Argv {
		checkPlaceholders("command", a)
	}
	for _, e := range o.Env {
		k, v, ok := strings.Cut(e, "=")
		if !ok || k == "" || strings.ContainsAny(k, " \t\n") {
			bad("env", strconv.Quote(e), `want KEY=VALUE, such as "KUBECONFIG=/etc/kube/config"`)
			continue
		}
		checkPlaceholders("env", v)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &Command{argv: append([]string(nil), o.Argv...), env: append([]string(nil), o.Env...)}, nil
}

func expand(s string, n rollout.Node) string {
	return placeholderRe.ReplaceAllStringFunc(s, func(p string) string { return placeholders[p](n) })
}

// Drain runs the command for n and waits for it.
func (c *Command) Drain(ctx context.Context, n rollout.Node) error {
	argv := make([]string, len(c.argv))
	for i, a := range c.argv {
		argv[i] = expand(a, n)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(),
		"NODEROLL_NODE_ID="+n.ID,
		"NODEROLL_NODE_ADDRESS="+n.Address,
		"NODEROLL_NODE_ZONE="+n.Zone,
		"NODEROLL_NODE_TEMPLATE="+n.Template,
	)
	for _, e := range c.env {
		cmd.Env = append(cmd.Env, expand(e, n))
	}
	out := newTail(outputTail)
	cmd.Stdout, cmd.Stderr = out, out // one writer: exec serialises the writes
	cmd.WaitDelay = waitDelay
	killGroupOnCancel(cmd)

	err := cmd.Run()
	name := quoteArgv(argv)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		last := out.LastLine()
		if last == "" {
			last = "(no output)"
		} else {
			last = strconv.Quote(last)
		}
		return fmt.Errorf("drain command %s was killed (%w); last output: %s", name, ctx.Err(), last)
	case errors.Is(err, exec.ErrWaitDelay):
		// Exited 0; something it started in the background still holds its
		// output. The drain itself succeeded.
		return nil
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		tail := out.String()
		if tail == "" {
			return fmt.Errorf("drain command %s failed: %s, no output", name, exit)
		}
		return fmt.Errorf("drain command %s failed: %s, output:\n%s", name, exit, tail)
	}
	return fmt.Errorf("drain command %s: %w", name, err)
}

// quoteArgv renders argv as a shell-like line for messages: plain words
// as they are, anything else in single quotes.
func quoteArgv(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		if a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-") == "" {
			q[i] = a
		} else {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(q, " ")
}
