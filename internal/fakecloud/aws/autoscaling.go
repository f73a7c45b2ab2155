package aws

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// allProcesses are the Auto Scaling processes SuspendProcesses accepts.
var allProcesses = []string{"Launch", "Terminate", "AddToLoadBalancer", "AlarmNotification", "AZRebalance",
	"HealthCheck", "InstanceRefresh", "ReplaceUnhealthy", "ScheduledActions"}

func (c *Cloud) asg(action string, f url.Values) (string, *apiError) {
	switch action {
	case "CreateAutoScalingGroup":
		return c.createGroup(f)
	case "DescribeAutoScalingGroups":
		return c.describeGroups(f)
	case "UpdateAutoScalingGroup":
		return c.updateGroup(f)
	case "SetDesiredCapacity":
		return c.setDesired(f)
	case "TerminateInstanceInAutoScalingGroup":
		return c.terminateInstance(f)
	case "SetInstanceProtection":
		return c.setProtection(f)
	case "SuspendProcesses", "ResumeProcesses":
		return c.suspendResume(f, action == "SuspendProcesses")
	case "DeleteAutoScalingGroup":
		return c.deleteGroup(f)
	case "CreateOrUpdateTags":
		return c.createOrUpdateTags(f)
	case "DeleteTags":
		return c.deleteTags(f)
	case "DescribeTags":
		return c.describeTags(f)
	}
	return "", errorf(400, "InvalidAction", "Could not find operation %s for version %s", action, asgVersion)
}

func validation(format string, args ...any) *apiError {
	return errorf(400, "ValidationError", format, args...)
}

func (c *Cloud) groupNamed(name string) (*group, *apiError) {
	g := c.groups[name]
	if g == nil || g.deleting {
		return nil, validation("AutoScalingGroup name not found - AutoScalingGroup '%s' not found", name)
	}
	return g, nil
}

func intParam(f url.Values, key string) (int, bool, *apiError) {
	s := f.Get(key)
	if s == "" {
		return 0, false, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, false, validation("Value '%s' at '%s' failed to satisfy constraint: Member must have value greater than or equal to 0", s, key)
	}
	return n, true, nil
}

func checkBounds(min, max, desired int) *apiError {
	if min > max {
		return validation("Max bound, %d, must be greater than or equal to min bound, %d", max, min)
	}
	if desired > max {
		return validation("Desired capacity:%d must be between the specified min size:%d and max size:%d", desired, min, max)
	}
	if desired < min {
		return validation("Desired capacity:%d must be between the specified min size:%d and max size:%d", desired, min, max)
	}
	return nil
}

func (c *Cloud) readLaunchTemplateSpec(f url.Values) (string, string, *apiError) {
	id, name, ver := f.Get("LaunchTemplate.LaunchTemplateId"), f.Get("LaunchTemplate.LaunchTemplateName"), f.Get("LaunchTemplate.Version")
	if id == "" && name != "" {
		for _, lt := range c.templates {
			if lt.name == name {
				id = lt.id
			}
		}
		if id == "" {
			return "", "", validation("You must use a valid fully-formed launch template. The specified launch template, with template name %s, does not exist.", name)
		}
	}
	if id == "" {
		return "", "", nil
	}
	if ver == "" {
		ver = "$Default"
	}
	if _, _, aerr := c.resolveVersionLocked(id, ver); aerr != nil {
		return "", "", validation("You must use a valid fully-formed launch template. %s", aerr.message)
	}
	return id, ver, nil
}

func (c *Cloud) createGroup(f url.Values) (string, *apiError) {
	name := f.Get("AutoScalingGroupName")
	if name == "" {
		return "", validation("1 validation error detected: Value null at 'autoScalingGroupName' failed to satisfy constraint: Member must not be null")
	}
	if c.groups[name] != nil {
		return "", errorf(400, "AlreadyExists", "AutoScalingGroup by this name already exists - A group with the name %s already exists", name)
	}
	ltID, ver, aerr := c.readLaunchTemplateSpec(f)
	if aerr != nil {
		return "", aerr
	}
	if ltID == "" {
		return "", validation("Valid requests must contain either LaunchTemplate, LaunchConfigurationName, InstanceId or MixedInstancesPolicy parameter.")
	}
	min, _, aerr := intParam(f, "MinSize")
	if aerr != nil {
		return "", aerr
	}
	max, _, aerr := intParam(f, "MaxSize")
	if aerr != nil {
		return "", aerr
	}
	desired, has, aerr := intParam(f, "DesiredCapacity")
	if aerr != nil {
		return "", aerr
	}
	if !has {
		desired = min
	}
	if aerr := checkBounds(min, max, desired); aerr != nil {
		return "", aerr
	}
	g := &group{
		name:    name,
		arn:     fmt.Sprintf("arn:aws:autoscaling:%s:%s:autoScalingGroup:%s:autoScalingGroupName/%s", c.opts.Region, c.opts.AccountID, newRequestID(), name),
		created: time.Now(), ltID: ltID, ltVersion: ver,
		min: min, max: max, desired: desired,
		targetGroups:    list(f, "TargetGroupARNs.member"),
		healthCheckType: f.Get("HealthCheckType"),
		tags:            map[string]tag{},
		suspended:       map[string]bool{},
	}
	if g.healthCheckType == "" {
		g.healthCheckType = "EC2"
	}
	g.gracePeriod, _, _ = intParam(f, "HealthCheckGracePeriod")
	if vpc := f.Get("VPCZoneIdentifier"); vpc != "" {
		for _, s := range strings.Split(vpc, ",") {
			if s = strings.TrimSpace(s); s != "" {
				g.subnets = append(g.subnets, s)
			}
		}
	}
	for _, t := range readTags(f) {
		if t.resourceID != "" && t.resourceID != name {
			continue
		}
		g.tags[t.key] = tag{value: t.value, propagate: t.propagate}
	}
	c.groups[name] = g
	return "", nil
}

func (c *Cloud) writeGroup(b *xb, g *group) {
	lt := c.templates[g.ltID]
	b.open("member")
	b.leaf("AutoScalingGroupARN", g.arn)
	b.leaf("AutoScalingGroupName", g.name)
	b.open("AvailabilityZones")
	seen := map[string]bool{}
	for i := range max(len(g.subnets), 1) {
		_, az := c.azFor(g, i)
		if !seen[az] {
			seen[az] = true
			b.leaf("member", az)
		}
	}
	b.close("AvailabilityZones")
	b.leaf("CreatedTime", ts(g.created))
	b.leaf("DefaultCooldown", "300")
	b.leaf("DesiredCapacity", strconv.Itoa(g.desired))
	b.leaf("HealthCheckGracePeriod", strconv.Itoa(g.gracePeriod))
	b.leaf("HealthCheckType", g.healthCheckType)
	b.open("Instances")
	for _, in := range g.instances {
		b.open("member")
		b.leaf("AvailabilityZone", in.az)
		b.leaf("HealthStatus", in.healthStatus)
		b.leaf("InstanceId", in.id)
		b.leaf("InstanceType", in.instanceType)
		b.open("LaunchTemplate")
		b.leaf("LaunchTemplateId", in.ltID)
		b.leaf("LaunchTemplateName", in.ltName)
		b.leaf("Version", in.ltVersion)
		b.close("LaunchTemplate")
		b.leaf("LifecycleState", in.lifecycle)
		b.leaf("ProtectedFromScaleIn", strconv.FormatBool(in.protected))
		b.close("member")
	}
	b.close("Instances")
	b.open("LaunchTemplate")
	b.leaf("LaunchTemplateId", g.ltID)
	if lt != nil {
		b.leaf("LaunchTemplateName", lt.name)
	}
	b.leaf("Version", g.ltVersion)
	b.close("LaunchTemplate")
	b.leaf("MaxSize", strconv.Itoa(g.max))
	b.leaf("MinSize", strconv.Itoa(g.min))
	b.leaf("NewInstancesProtectedFromScaleIn", "false")
	if g.deleting {
		b.leaf("Status", "Delete in progress")
	}
	b.open("SuspendedProcesses")
	for _, p := range allProcesses {
		if g.suspended[p] {
			b.open("member")
			b.leaf("ProcessName", p)
			b.leaf("SuspensionReason", "User suspended at "+ts(time.Now()))
			b.close("member")
		}
	}
	b.close("SuspendedProcesses")
	b.open("Tags")
	for _, k := range sortedKeys(g.tags) {
		writeASGTag(b, g.name, k, g.tags[k])
	}
	b.close("Tags")
	b.open("TargetGroupARNs")
	for _, t := range g.targetGroups {
		b.leaf("member", t)
	}
	b.close("TargetGroupARNs")
	b.open("TerminationPolicies")
	b.leaf("member", "Default")
	b.close("TerminationPolicies")
	b.leafIf("VPCZoneIdentifier", strings.Join(g.subnets, ","))
	b.close("member")
}

func writeASGTag(b *xb, groupName, k string, t tag) {
	b.open("member")
	b.leaf("Key", k)
	b.leaf("PropagateAtLaunch", strconv.FormatBool(t.propagate))
	b.leaf("ResourceId", groupName)
	b.leaf("ResourceType", "auto-scaling-group")
	b.leaf("Value", t.value)
	b.close("member")
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (c *Cloud) describeGroups(f url.Values) (string, *apiError) {
	names := list(f, "AutoScalingGroupNames.member")
	var gs []*group
	if len(names) > 0 {
		for _, n := range names {
			if g := c.groups[n]; g != nil {
				gs = append(gs, g)
			}
		}
	} else {
		for _, n := range sortedKeys(c.groups) {
			gs = append(gs, c.groups[n])
		}
	}
	filters := asgFilters(f)
	kept := gs[:0]
	for _, g := range gs {
		ok := true
		for _, fl := range filters {
			switch {
			case fl.name == "tag-key":
				found := false
				for k := range g.tags {
					found = found || anyMatch(fl.values, k)
				}
				ok = ok && found
			case fl.name == "tag-value":
				found := false
				for _, t := range g.tags {
					found = found || anyMatch(fl.values, t.value)
				}
				ok = ok && found
			case strings.HasPrefix(fl.name, "tag:"):
				t, has := g.tags[strings.TrimPrefix(fl.name, "tag:")]
				ok = ok && has && anyMatch(fl.values, t.value)
			default:
				return "", validation("The filter '%s' is invalid", fl.name)
			}
		}
		if ok {
			kept = append(kept, g)
		}
	}
	gs = kept
	if s := f.Get("MaxRecords"); s != "" {
		if n, err := strconv.Atoi(s); err != nil || n < 1 || n > 100 {
			return "", validation("1 validation error detected: Value '%s' at 'maxRecords' failed to satisfy constraint: Member must have value between 1 and 100", s)
		}
	}
	from, to, next, aerr := page(len(gs), f.Get("NextToken"), pageSize(f.Get("MaxRecords"), c.opts.ASGPageSize, 50))
	if aerr != nil {
		return "", aerr
	}
	var b xb
	b.open("AutoScalingGroups")
	for _, g := range gs[from:to] {
		c.writeGroup(&b, g)
	}
	b.close("AutoScalingGroups")
	b.leafIf("NextToken", next)
	return b.String(), nil
}

func (c *Cloud) updateGroup(f url.Values) (string, *apiError) {
	g, aerr := c.groupNamed(f.Get("AutoScalingGroupName"))
	if aerr != nil {
		return "", aerr
	}
	ltID, ver, aerr := c.readLaunchTemplateSpec(f)
	if aerr != nil {
		return "", aerr
	}
	min, max, desired := g.min, g.max, g.desired
	if n, ok, aerr := intParam(f, "MinSize"); aerr != nil {
		return "", aerr
	} else if ok {
		min = n
	}
	if n, ok, aerr := intParam(f, "MaxSize"); aerr != nil {
		return "", aerr
	} else if ok {
		max = n
	}
	_, hasDesired, aerr := intParam(f, "DesiredCapacity")
	if aerr != nil {
		return "", aerr
	}
	if hasDesired {
		desired, _, _ = intParam(f, "DesiredCapacity")
	} else {
		// Without an explicit desired capacity, the group clamps it into the
		// new bounds.
		desired = clamp(desired, min, max)
	}
	if aerr := checkBounds(min, max, desired); aerr != nil {
		return "", aerr
	}
	if ltID != "" {
		g.ltID, g.ltVersion = ltID, ver
	}
	g.min, g.max, g.desired = min, max, desired
	if s := f.Get("HealthCheckType"); s != "" {
		g.healthCheckType = s
	}
	return "", nil
}

func clamp(v, lo, hi int) int {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}

func (c *Cloud) setDesired(f url.Values) (string, *apiError) {
	g, aerr := c.groupNamed(f.Get("AutoScalingGroupName"))
	if aerr != nil {
		return "", aerr
	}
	n, ok, aerr := intParam(f, "DesiredCapacity")
	if aerr != nil {
		return "", aerr
	}
	if !ok {
		return "", validation("1 validation error detected: Value null at 'desiredCapacity' failed to satisfy constraint: Member must not be null")
	}
	if n > g.max {
		return "", validation("New SetDesiredCapacity value %d is above max value %d for the AutoScalingGroup.", n, g.max)
	}
	if n < g.min {
		return "", validation("New SetDesiredCapacity value %d is below min value %d for the AutoScalingGroup.", n, g.min)
	}
	g.desired = n
	return "", nil
}

func (c *Cloud) terminateInstance(f url.Values) (string, *apiError) {
	id := f.Get("InstanceId")
	in := c.instances[id]
	if in == nil || in.group == nil {
		return "", validation("Instance Id not found - No managed instance found for instance ID: %s", id)
	}
	g := in.group
	decrement := f.Get("ShouldDecrementDesiredCapacity") == "true"
	if in.lifecycle == "Terminating" || in.lifecycle == "Terminated" {
		return "", errorf(400, "ScalingActivityInProgress", "The instance %s is already terminating.", id)
	}
	if decrement {
		if g.desired-1 < g.min {
			return "", validation("Currently, desiredSize equals minSize (%d). Terminating instance without replacement will violate group's min size constraint. Either set shouldDecrementDesiredCapacity flag to false or lower group's min size.", g.min)
		}
		if in.lifecycle != "Standby" {
			g.desired--
		}
	}
	c.beginTerminateLocked(in, time.Now())
	var b xb
	b.open("Activity")
	b.leaf("ActivityId", newRequestID())
	b.leaf("AutoScalingGroupName", g.name)
	b.leaf("Cause", fmt.Sprintf("At %s instance %s was taken out of service in response to a user request.", ts(time.Now()), id))
	b.leaf("Description", "Terminating EC2 instance: "+id)
	b.leaf("Progress", "0")
	b.leaf("StartTime", ts(time.Now()))
	b.leaf("StatusCode", "InProgress")
	b.close("Activity")
	return b.String(), nil
}

func (c *Cloud) setProtection(f url.Values) (string, *apiError) {
	g, aerr := c.groupNamed(f.Get("AutoScalingGroupName"))
	if aerr != nil {
		return "", aerr
	}
	ids := list(f, "InstanceIds.member")
	p := f.Get("ProtectedFromScaleIn") == "true"
	for _, id := range ids {
		in := c.instances[id]
		if in == nil || in.group != g {
			return "", validation("The instance %s is not part of Auto Scaling group %s.", id, g.name)
		}
	}
	for _, id := range ids {
		c.instances[id].protected = p
	}
	return "", nil
}

func (c *Cloud) suspendResume(f url.Values, suspend bool) (string, *apiError) {
	g, aerr := c.groupNamed(f.Get("AutoScalingGroupName"))
	if aerr != nil {
		return "", aerr
	}
	procs := list(f, "ScalingProcesses.member")
	if len(procs) == 0 {
		procs = allProcesses
	}
	for _, p := range procs {
		known := false
		for _, a := range allProcesses {
			known = known || a == p
		}
		if !known {
			return "", validation("Process %s is not a valid scaling process.", p)
		}
		g.suspended[p] = suspend
	}
	return "", nil
}

func (c *Cloud) deleteGroup(f url.Values) (string, *apiError) {
	name := f.Get("AutoScalingGroupName")
	g := c.groups[name]
	if g == nil {
		return "", validation("AutoScalingGroup name not found - AutoScalingGroup '%s' not found", name)
	}
	if g.deleting {
		return "", errorf(400, "ScalingActivityInProgress", "An AutoScalingGroup delete is already in progress for %s.", name)
	}
	if f.Get("ForceDelete") != "true" {
		for _, in := range g.instances {
			if in.lifecycle == "Terminating" {
				return "", errorf(400, "ScalingActivityInProgress", "You cannot delete an AutoScalingGroup while there are scaling activities in progress for that group.")
			}
		}
		if len(g.instances) > 0 {
			return "", errorf(400, "ResourceInUse", "You cannot delete an AutoScalingGroup while there are instances or pending Spot instance request(s) still in the group.")
		}
	}
	g.deleting = true
	g.desired = 0
	c.advanceLocked(time.Now())
	return "", nil
}

type tagParam struct {
	resourceID, key, value string
	propagate              bool
}

func readTags(f url.Values) []tagParam {
	var out []tagParam
	for i := 1; ; i++ {
		p := fmt.Sprintf("Tags.member.%d.", i)
		k, ok := f[p+"Key"]
		if !ok {
			return out
		}
		out = append(out, tagParam{resourceID: f.Get(p + "ResourceId"), key: k[0], value: f.Get(p + "Value"),
			propagate: f.Get(p+"PropagateAtLaunch") == "true"})
	}
}

func (c *Cloud) createOrUpdateTags(f url.Values) (string, *apiError) {
	tags := readTags(f)
	for _, t := range tags {
		if _, aerr := c.groupNamed(t.resourceID); aerr != nil {
			return "", aerr
		}
	}
	for _, t := range tags {
		c.groups[t.resourceID].tags[t.key] = tag{value: t.value, propagate: t.propagate}
	}
	return "", nil
}

func (c *Cloud) deleteTags(f url.Values) (string, *apiError) {
	tags := readTags(f)
	for _, t := range tags {
		if _, aerr := c.groupNamed(t.resourceID); aerr != nil {
			return "", aerr
		}
	}
	for _, t := range tags {
		delete(c.groups[t.resourceID].tags, t.key)
	}
	return "", nil
}

func (c *Cloud) describeTags(f url.Values) (string, *apiError) {
	filters := asgFilters(f)
	type row struct {
		g string
		k string
		t tag
	}
	var rows []row
	for _, n := range sortedKeys(c.groups) {
		g := c.groups[n]
		for _, k := range sortedKeys(g.tags) {
			t := g.tags[k]
			ok := true
			for _, fl := range filters {
				switch fl.name {
				case "auto-scaling-group":
					ok = ok && anyMatch(fl.values, g.name)
				case "key":
					ok = ok && anyMatch(fl.values, k)
				case "value":
					ok = ok && anyMatch(fl.values, t.value)
				case "propagate-at-launch":
					ok = ok && anyMatch(fl.values, strconv.FormatBool(t.propagate))
				default:
					return "", validation("The filter '%s' is invalid", fl.name)
				}
			}
			if ok {
				rows = append(rows, row{g.name, k, t})
			}
		}
	}
	from, to, next, aerr := page(len(rows), f.Get("NextToken"), pageSize(f.Get("MaxRecords"), c.opts.ASGPageSize, 100))
	if aerr != nil {
		return "", aerr
	}
	var b xb
	b.leafIf("NextToken", next)
	b.open("Tags")
	for _, r := range rows[from:to] {
		writeASGTag(&b, r.g, r.k, r.t)
	}
	b.close("Tags")
	return b.String(), nil
}
