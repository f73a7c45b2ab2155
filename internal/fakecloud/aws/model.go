package aws

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

type launchTemplate struct {
	id, name       string
	created        time.Time
	defaultVersion int
	latestVersion  int
	versions       map[int]*ltVersion
	tags           map[string]string
}

type ltVersion struct {
	number       int
	description  string
	imageID      string
	instanceType string
	created      time.Time
}

type tag struct {
	value     string
	propagate bool
}

type group struct {
	name            string
	arn             string
	created         time.Time
	ltID            string
	ltVersion       string // as given: "3", "$Latest", "$Default"
	min, max        int
	desired         int
	subnets         []string
	targetGroups    []string
	healthCheckType string
	gracePeriod     int
	tags            map[string]tag
	suspended       map[string]bool
	deleting        bool
	instances       []*instance // in launch order
	launchFailure   string      // why the last launch failed, if it did
}

type instance struct {
	id           string
	group        *group // nil once it left its group
	ltID         string
	ltName       string
	ltVersion    string // the group's version spec at launch
	imageID      string
	instanceType string
	subnet       string
	az           string
	privateIP    string
	launched     time.Time
	visibleAt    time.Time
	behaviour    Behaviour

	lifecycle      string // Auto Scaling: Pending, InService, Terminating, Standby ...
	healthStatus   string // Healthy | Unhealthy
	protected      bool
	unhealthySince time.Time
	terminateAt    time.Time

	state       string // EC2: pending, running, shutting-down, terminated
	stateReason string
	health      *http.Server
}

func (c *Cloud) resolveVersionLocked(ltID, spec string) (*launchTemplate, *ltVersion, *apiError) {
	lt := c.templates[ltID]
	if lt == nil {
		return nil, nil, errorf(400, "InvalidLaunchTemplateId.NotFound", "The specified launch template, with template ID %s, does not exist.", ltID)
	}
	n := 0
	switch spec {
	case "", "$Default":
		n = lt.defaultVersion
	case "$Latest":
		n = lt.latestVersion
	default:
		v, err := strconv.Atoi(spec)
		if err != nil {
			return nil, nil, errorf(400, "InvalidLaunchTemplateId.VersionNotFound", "Launch template version %q is not valid.", spec)
		}
		n = v
	}
	v := lt.versions[n]
	if v == nil {
		return nil, nil, errorf(400, "InvalidLaunchTemplateId.VersionNotFound", "Could not find launch template version %s for launch template %s.", spec, ltID)
	}
	return lt, v, nil
}

// azFor maps a subnet to a zone: the n-th distinct subnet is in zone n.
func (c *Cloud) azFor(g *group, i int) (string, string) {
	if len(g.subnets) == 0 {
		return "", c.opts.Region + "a"
	}
	s := g.subnets[i%len(g.subnets)]
	return s, c.opts.Region + string(rune('a'+i%len(g.subnets)%6))
}

func (c *Cloud) launchLocked(g *group, now time.Time) {
	lt, v, aerr := c.resolveVersionLocked(g.ltID, g.ltVersion)
	if aerr != nil {
		g.launchFailure = aerr.message
		return
	}
	g.launchFailure = ""
	c.seq++
	subnet, az := c.azFor(g, c.seq)
	in := &instance{
		id:           "i-" + randomHex(17),
		group:        g,
		ltID:         lt.id,
		ltName:       lt.name,
		ltVersion:    g.ltVersion,
		imageID:      v.imageID,
		instanceType: v.instanceType,
		subnet:       subnet,
		az:           az,
		launched:     now,
		visibleAt:    now.Add(c.opts.ConsistencyDelay),
		behaviour:    c.behaviour(v.imageID),
		lifecycle:    "Pending",
		healthStatus: "Healthy",
		state:        "pending",
	}
	in.privateIP, _ = c.allocAddrLocked(false)
	g.instances = append(g.instances, in)
	c.instances[in.id] = in
}

// startHealthLocked binds the instance's health listener. A crash image
// never listens.
func (c *Cloud) startHealthLocked(in *instance) {
	if in.behaviour == BehaviourCrash {
		return
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(in.privateIP, strconv.Itoa(c.opts.HealthPort)))
	if err != nil {
		// Someone else holds this address: move the instance to a free one.
		ip, l := c.allocAddrLocked(true)
		if l == nil {
			in.stateReason = "no free loopback address for the health endpoint"
			return
		}
		in.privateIP, ln = ip, l
	}
	id, ami, b, slow, path := in.id, in.imageID, in.behaviour, c.opts.SlowDelay, c.opts.HealthPath
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if path != "" && r.URL.Path != path {
				http.NotFound(w, r)
				return
			}
			switch b {
			case BehaviourUnhealthy:
				http.Error(w, "unhealthy "+id+" "+ami, http.StatusInternalServerError)
				return
			case BehaviourSlow:
				select {
				case <-time.After(slow):
				case <-r.Context().Done():
					return
				}
			}
			fmt.Fprintf(w, "ok %s %s\n", id, ami)
		}),
		ReadHeaderTimeout: 5 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return context.Background() },
	}
	in.health = srv
	go func() { _ = srv.Serve(ln) }()
}

func (c *Cloud) stopHealthLocked(in *instance) {
	if in.health != nil {
		// Close shuts the listener and open connections without waiting for
		// handlers, so it is safe under the lock.
		s := in.health
		in.health = nil
		_ = s.Close()
	}
}

func (c *Cloud) beginTerminateLocked(in *instance, now time.Time) {
	if in.lifecycle == "Terminating" {
		return
	}
	in.lifecycle = "Terminating"
	in.terminateAt = now.Add(c.opts.TerminateDelay)
	in.state = "shutting-down"
	c.stopHealthLocked(in)
}

// advanceLocked moves every instance and group along its lifecycle up to now.
func (c *Cloud) advanceLocked(now time.Time) {
	names := make([]string, 0, len(c.groups))
	for n := range c.groups {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		g := c.groups[name]
		kept := g.instances[:0]
		for _, in := range g.instances {
			switch in.lifecycle {
			case "Pending":
				if !now.Before(in.launched.Add(c.opts.BootDelay)) {
					in.lifecycle = "InService"
					in.state = "running"
					c.startHealthLocked(in)
					if in.behaviour == BehaviourCrash {
						// Boots, then fails its EC2 status checks.
						in.healthStatus = "Unhealthy"
						in.unhealthySince = now
						in.stateReason = "Client.InstanceInitiatedShutdown: Instance initiated shutdown"
					}
				}
			case "InService":
				if in.healthStatus == "Unhealthy" && !g.suspended["ReplaceUnhealthy"] && !g.suspended["HealthCheck"] &&
					!now.Before(in.unhealthySince.Add(c.opts.BootDelay)) {
					c.beginTerminateLocked(in, now)
				}
			case "Terminating":
				if !now.Before(in.terminateAt) {
					in.lifecycle = "Terminated"
					in.state = "terminated"
					in.group = nil
					continue // leaves the group
				}
			}
			kept = append(kept, in)
		}
		g.instances = kept

		if g.deleting {
			for _, in := range g.instances {
				c.beginTerminateLocked(in, now)
			}
			if len(g.instances) == 0 {
				delete(c.groups, name)
			}
			continue
		}
		active := 0
		for _, in := range g.instances {
			if in.lifecycle != "Terminating" && in.lifecycle != "Standby" {
				active++
			}
		}
		// Standby instances serve nothing and do not count: the group
		// launches replacements for them (ShouldDecrementDesiredCapacity=false).
		want := g.desired
		if active < want && !g.suspended["Launch"] {
			for range want - active {
				c.launchLocked(g, now)
			}
		}
		if active > want && !g.suspended["Terminate"] {
			for _, in := range c.scaleInVictims(g, active-want) {
				c.beginTerminateLocked(in, now)
			}
		}
	}
}

// scaleInVictims follows the default termination policy closely enough:
// unprotected instances first on a launch template version other than the
// group's, then the oldest.
func (c *Cloud) scaleInVictims(g *group, n int) []*instance {
	var cand []*instance
	for _, in := range g.instances {
		if in.lifecycle != "Terminating" && in.lifecycle != "Standby" && !in.protected {
			cand = append(cand, in)
		}
	}
	sort.SliceStable(cand, func(i, j int) bool {
		oi, oj := cand[i].ltVersion != g.ltVersion, cand[j].ltVersion != g.ltVersion
		if oi != oj {
			return oi
		}
		return cand[i].launched.Before(cand[j].launched)
	})
	if n > len(cand) {
		n = len(cand)
	}
	return cand[:n]
}

// Instance is a snapshot of one instance, for tests.
type Instance struct {
	ID, Group, ImageID, InstanceType, PrivateIP string
	LaunchTemplateID, LaunchTemplateVersion     string
	Lifecycle, HealthStatus, State              string
	Protected                                   bool
}

// Instances returns every instance the fake knows, terminated ones included,
// in launch order.
func (c *Cloud) Instances() []Instance {
	c.mu.Lock()
	defer c.mu.Unlock()
	var all []*instance
	for _, in := range c.instances {
		all = append(all, in)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].launched.Before(all[j].launched) })
	out := make([]Instance, 0, len(all))
	for _, in := range all {
		g := ""
		if in.group != nil {
			g = in.group.name
		}
		out = append(out, Instance{
			ID: in.id, Group: g, ImageID: in.imageID, InstanceType: in.instanceType, PrivateIP: in.privateIP,
			LaunchTemplateID: in.ltID, LaunchTemplateVersion: in.ltVersion,
			Lifecycle: in.lifecycle, HealthStatus: in.healthStatus, State: in.state, Protected: in.protected,
		})
	}
	return out
}

// Group is a snapshot of one Auto Scaling group, for tests.
type Group struct {
	Name                  string
	LaunchTemplateID      string
	LaunchTemplateVersion string
	Min, Max, Desired     int
	Tags                  map[string]string
	SuspendedProcesses    []string
	Deleting              bool
	LastLaunchFailure     string
	HealthCheckType       string
	TargetGroupARNs       []string
	VPCZoneIdentifier     string
	InstanceIDs           []string
}

// Group returns a snapshot of the named group, or false.
func (c *Cloud) Group(name string) (Group, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.groups[name]
	if g == nil {
		return Group{}, false
	}
	out := Group{
		Name: g.name, LaunchTemplateID: g.ltID, LaunchTemplateVersion: g.ltVersion,
		Min: g.min, Max: g.max, Desired: g.desired, Tags: map[string]string{},
		Deleting: g.deleting, LastLaunchFailure: g.launchFailure, HealthCheckType: g.healthCheckType,
		TargetGroupARNs: append([]string(nil), g.targetGroups...), VPCZoneIdentifier: strings.Join(g.subnets, ","),
	}
	for k, t := range g.tags {
		out.Tags[k] = t.value
	}
	for p, on := range g.suspended {
		if on {
			out.SuspendedProcesses = append(out.SuspendedProcesses, p)
		}
	}
	sort.Strings(out.SuspendedProcesses)
	for _, in := range g.instances {
		out.InstanceIDs = append(out.InstanceIDs, in.id)
	}
	return out, true
}

// LaunchTemplateVersions returns the version numbers of a template, sorted.
func (c *Cloud) LaunchTemplateVersions(ltID string) []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	lt := c.templates[ltID]
	if lt == nil {
		return nil
	}
	var out []int
	for n := range lt.versions {
		out = append(out, n)
	}
	sort.Ints(out)
	return out
}

// SetStandby moves an instance in or out of Standby, as EnterStandby and
// ExitStandby would (with ShouldDecrementDesiredCapacity=false).
func (c *Cloud) SetStandby(id string, standby bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	in := c.instances[id]
	if in == nil || in.group == nil {
		return fmt.Errorf("instance %s is not in a group", id)
	}
	if standby {
		in.lifecycle = "Standby"
	} else {
		in.lifecycle = "InService"
	}
	return nil
}
