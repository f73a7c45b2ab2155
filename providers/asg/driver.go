package asg

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/noderoll/terraform-provider-noderoll/rollout"
)

// describeGroup is the one DescribeAutoScalingGroups (all pages) per
// observation. A missing group is a rollout.NotFound error.
func (d *Driver) describeGroup(ctx context.Context) (asgtypes.AutoScalingGroup, error) {
	p := autoscaling.NewDescribeAutoScalingGroupsPaginator(d.asg, &autoscaling.DescribeAutoScalingGroupsInput{
		AutoScalingGroupNames: []string{d.group},
	})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return asgtypes.AutoScalingGroup{}, fmt.Errorf("asg: describe group %s: %w", d.group, err)
		}
		for _, g := range out.AutoScalingGroups {
			if aws.ToString(g.AutoScalingGroupName) == d.group {
				return g, nil
			}
		}
	}
	return asgtypes.AutoScalingGroup{}, rollout.Errorf(rollout.NotFound, "asg: auto scaling group %s not found", d.group)
}

func groupTags(g asgtypes.AutoScalingGroup) map[string]string {
	out := make(map[string]string, len(g.Tags))
	for _, t := range g.Tags {
		out[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return out
}

func deleting(g asgtypes.AutoScalingGroup) bool {
	return strings.HasPrefix(aws.ToString(g.Status), "Delete")
}

// Describe observes the pool: one DescribeAutoScalingGroups (all pages) and,
// for the private addresses, one DescribeInstances filtered by the group's
// instance ids (a page per 1000 instances, a request per 200 ids). A
// filter, unlike InstanceIds, does not fail with InvalidInstanceID.NotFound
// when an instance is too fresh for EC2's eventually consistent view: that
// instance is reported provisioning with no address until EC2 sees it. The
// group's launch template version is read once and cached (numbered versions
// never change).
func (d *Driver) Describe(ctx context.Context) (rollout.Pool, error) {
	g, err := d.describeGroup(ctx)
	if err != nil {
		return rollout.Pool{}, err
	}
	tags := groupTags(g)
	pool := rollout.Pool{
		Name:   d.pool,
		Origin: tags[TagOrigin],
		Size:   int(aws.ToInt32(g.DesiredCapacity)),
	}
	if lt := g.LaunchTemplate; lt != nil {
		ltID, version := aws.ToString(lt.LaunchTemplateId), aws.ToString(lt.Version)
		pool.Template, err = d.template(ctx, ltID, version)
		if rollout.CodeOf(d, err) == rollout.NotFound {
			// Someone deleted the version the group points at: the group
			// still exists, so report its template by ID, contents unknown.
			pool.Template, err = rollout.Template{ID: templateID(ltID, version)}, nil
		}
		if err != nil {
			return rollout.Pool{}, err
		}
	}
	ids := make([]string, 0, len(g.Instances))
	for _, in := range g.Instances {
		ids = append(ids, aws.ToString(in.InstanceId))
	}
	seen, err := d.instances(ctx, ids)
	if err != nil {
		return rollout.Pool{}, err
	}
	for _, in := range g.Instances {
		pool.Nodes = append(pool.Nodes, node(in, seen[aws.ToString(in.InstanceId)]))
	}
	sort.Slice(pool.Nodes, func(i, j int) bool {
		a, b := pool.Nodes[i], pool.Nodes[j]
		if !a.CreatedAt.Equal(b.CreatedAt) {
			return a.CreatedAt.Before(b.CreatedAt)
		}
		return a.ID < b.ID
	})
	return pool, nil
}

// instances returns what EC2 knows of these ids; ids it cannot see yet are
// absent from the map.
func (d *Driver) instances(ctx context.Context, ids []string) (map[string]ec2types.Instance, error) {
	out := make(map[string]ec2types.Instance, len(ids))
	const perFilter = 200 // EC2 accepts up to 200 values in one filter
	for start := 0; start < len(ids); start += perFilter {
		batch := ids[start:min(start+perFilter, len(ids))]
		p := ec2.NewDescribeInstancesPaginator(d.ec2, &ec2.DescribeInstancesInput{
			Filters:    []ec2types.Filter{{Name: aws.String("instance-id"), Values: batch}},
			MaxResults: aws.Int32(1000),
		})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("asg: describe %d instances of group %s: %w", len(batch), d.group, err)
			}
			for _, r := range page.Reservations {
				for _, in := range r.Instances {
					out[aws.ToString(in.InstanceId)] = in
				}
			}
		}
	}
	return out, nil
}

// node maps an Auto Scaling instance and EC2's view of it (zero when EC2
// cannot see it yet) to a rollout.Node.
func node(in asgtypes.Instance, e ec2types.Instance) rollout.Node {
	n := rollout.Node{
		ID:   aws.ToString(in.InstanceId),
		Zone: aws.ToString(in.AvailabilityZone),
	}
	if lt := in.LaunchTemplate; lt != nil {
		n.Template = templateID(aws.ToString(lt.LaunchTemplateId), aws.ToString(lt.Version))
	}
	switch aws.ToString(in.HealthStatus) {
	case "Healthy":
		n.CloudHealth = rollout.CloudHealthHealthy
	case "Unhealthy":
		n.CloudHealth = rollout.CloudHealthUnhealthy
	}
	state := in.LifecycleState
	switch {
	case state == asgtypes.LifecycleStateInService:
		n.State = rollout.NodeRunning
	case state == asgtypes.LifecycleStateStandby || state == asgtypes.LifecycleStateEnteringStandby:
		// In the group but taken out of service by someone: it serves no
		// traffic from the load balancer. Reported running so probes decide,
		// with the reason spelled out.
		n.State = rollout.NodeRunning
		n.Detail = string(state) + ": taken out of service (ExitStandby returns it)"
	case strings.HasPrefix(string(state), "Terminating"), state == asgtypes.LifecycleStateTerminated,
		state == asgtypes.LifecycleStateDetaching, state == asgtypes.LifecycleStateDetached:
		n.State = rollout.NodeTerminating
		n.Detail = string(state)
	default: // Pending, Pending:Wait, Pending:Proceed, Quarantined, Warmed:*
		n.State = rollout.NodeProvisioning
		if state != asgtypes.LifecycleStatePending {
			n.Detail = string(state)
		}
	}
	if aws.ToBool(in.ProtectedFromScaleIn) {
		n.Detail = strings.TrimPrefix(n.Detail+"; scale-in protected", "; ")
	}
	if e.InstanceId == nil {
		// EC2's view is eventually consistent: a fresh instance may be
		// unknown to DescribeInstances for a few seconds.
		if n.State == rollout.NodeRunning || n.State == rollout.NodeProvisioning {
			n.State = rollout.NodeProvisioning
			n.Detail = strings.TrimPrefix(n.Detail+"; not yet visible to DescribeInstances", "; ")
		}
		return n
	}
	n.CreatedAt = aws.ToTime(e.LaunchTime)
	if e.State != nil {
		switch e.State.Name {
		case ec2types.InstanceStateNameRunning, ec2types.InstanceStateNamePending:
			n.Address = aws.ToString(e.PrivateIpAddress)
		default: // stopping, stopped, shutting-down, terminated
			if n.State == rollout.NodeRunning || n.State == rollout.NodeProvisioning {
				n.State = rollout.NodeFailed
				reason := ""
				if e.StateReason != nil {
					reason = ": " + aws.ToString(e.StateReason.Message)
				}
				n.Detail = "EC2 state " + string(e.State.Name) + reason
			}
		}
	}
	return n
}

// template returns the contents of a launch template version, cached when
// the version is a number.
func (d *Driver) template(ctx context.Context, ltID, version string) (rollout.Template, error) {
	id := templateID(ltID, version)
	d.mu.Lock()
	t, ok := d.templates[id]
	d.mu.Unlock()
	if ok {
		return t, nil
	}
	out, err := d.ec2.DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{
		LaunchTemplateId: aws.String(ltID), Versions: []string{version},
	})
	if err != nil {
		return rollout.Template{}, fmt.Errorf("asg: describe launch template version %s: %w", id, err)
	}
	if len(out.LaunchTemplateVersions) == 0 {
		return rollout.Template{}, rollout.Errorf(rollout.NotFound, "asg: launch template version %s not found", id)
	}
	v := out.LaunchTemplateVersions[0]
	t = versionTemplate(ltID, version, v)
	if _, err := strconv.Atoi(version); err == nil {
		d.mu.Lock()
		d.templates[id] = t
		d.descs[id] = aws.ToString(v.VersionDescription)
		d.mu.Unlock()
	}
	return t, nil
}

// description returns a numbered version's description, cached alongside
// its contents by template.
func (d *Driver) description(ctx context.Context, ltID, version string) (string, error) {
	id := templateID(ltID, version)
	d.mu.Lock()
	desc, ok := d.descs[id]
	d.mu.Unlock()
	if ok {
		return desc, nil
	}
	if _, err := d.template(ctx, ltID, version); err != nil {
		return "", err
	}
	d.mu.Lock()
	desc = d.descs[id]
	d.mu.Unlock()
	return desc, nil
}

// versionTemplate describes a version. For a version noderoll made, image and
// machine type come from its marker, i.e. from the spec it was made for: a
// spec with no machine type (the base's type applies) stays "" so that the
// template Describe reports equals the spec and a plan shows no change.
func versionTemplate(ltID, version string, v ec2types.LaunchTemplateVersion) rollout.Template {
	t := rollout.Template{ID: templateID(ltID, version)}
	if img, typ, ok := parseMarker(aws.ToString(v.VersionDescription)); ok {
		t.Image, t.MachineType = img, typ
		return t
	}
	if data := v.LaunchTemplateData; data != nil {
		t.Image = aws.ToString(data.ImageId)
		t.MachineType = string(data.InstanceType)
	}
	return t
}

// parseMarker reads image and type from "noderoll pool=P base=N image=I type=T".
func parseMarker(desc string) (image, typ string, ok bool) {
	if !strings.HasPrefix(desc, "noderoll pool=") {
		return "", "", false
	}
	i, j := strings.LastIndex(desc, " image="), strings.LastIndex(desc, " type=")
	if i < 0 || j < i {
		return "", "", false
	}
	return desc[i+len(" image=") : j], desc[j+len(" type="):], true
}

// base resolves the base launch template: its id and current default version.
func (d *Driver) base(ctx context.Context) (string, int64, error) {
	in := &ec2.DescribeLaunchTemplatesInput{}
	if d.o.LaunchTemplateID != "" {
		in.LaunchTemplateIds = []string{d.o.LaunchTemplateID}
	} else {
		in.LaunchTemplateNames = []string{d.o.LaunchTemplateName}
	}
	out, err := d.ec2.DescribeLaunchTemplates(ctx, in)
	if err != nil {
		return "", 0, fmt.Errorf("asg: describe base launch template %s%s: %w", d.o.LaunchTemplateID, d.o.LaunchTemplateName, err)
	}
	if len(out.LaunchTemplates) != 1 {
		return "", 0, rollout.Errorf(rollout.NotFound, "asg: base launch template %s%s not found", d.o.LaunchTemplateID, d.o.LaunchTemplateName)
	}
	lt := out.LaunchTemplates[0]
	id := aws.ToString(lt.LaunchTemplateId)
	d.mu.Lock()
	d.baseID = id
	d.mu.Unlock()
	return id, aws.ToInt64(lt.DefaultVersionNumber), nil
}

// versionMarker is the description of a version noderoll made: it names the
// pool, the base version it was copied from, and the spec, so the same spec
// on the same base finds the same version again.
func (d *Driver) versionMarker(baseVersion int64, s rollout.Spec) string {
	return fmt.Sprintf("noderoll pool=%s base=%d image=%s type=%s", d.pool, baseVersion, s.Image, s.MachineType)
}

func (d *Driver) markerPrefix() string { return "noderoll pool=" + d.pool + " " }

// PrepareTemplate returns the numbered launch template version for s: a
// version of the base template copied from its default version with the
// spec's AMI and (when set) instance type. It looks for a version it made
// before with the same marker and creates one only if there is none.
func (d *Driver) PrepareTemplate(ctx context.Context, s rollout.Spec) (rollout.Template, error) {
	if !strings.HasPrefix(s.Image, "ami-") {
		return rollout.Template{}, rollout.Errorf(rollout.Invalid, "asg: image %q is not an AMI id (ami-...): resolve names with the noderoll_image data source", s.Image)
	}
	ltID, baseVersion, err := d.base(ctx)
	if err != nil {
		return rollout.Template{}, err
	}
	marker := d.versionMarker(baseVersion, s)
	p := ec2.NewDescribeLaunchTemplateVersionsPaginator(d.ec2, &ec2.DescribeLaunchTemplateVersionsInput{
		LaunchTemplateId: aws.String(ltID),
		Filters:          []ec2types.Filter{{Name: aws.String("image-id"), Values: []string{s.Image}}},
	})
	var found *ec2types.LaunchTemplateVersion
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return rollout.Template{}, fmt.Errorf("asg: list versions of %s: %w", ltID, err)
		}
		for i, v := range page.LaunchTemplateVersions {
			if aws.ToString(v.VersionDescription) == marker && (found == nil || aws.ToInt64(v.VersionNumber) < aws.ToInt64(found.VersionNumber)) {
				found = &page.LaunchTemplateVersions[i]
			}
		}
	}
	if found == nil {
		data := &ec2types.RequestLaunchTemplateData{ImageId: aws.String(s.Image)}
		if s.MachineType != "" {
			data.InstanceType = ec2types.InstanceType(s.MachineType)
		}
		out, err := d.ec2.CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{
			LaunchTemplateId:   aws.String(ltID),
			SourceVersion:      aws.String(strconv.FormatInt(baseVersion, 10)),
			VersionDescription: aws.String(marker),
			LaunchTemplateData: data,
		})
		if err != nil {
			return rollout.Template{}, fmt.Errorf("asg: create version of %s for image %s type %s: %w", ltID, s.Image, s.MachineType, err)
		}
		found = out.LaunchTemplateVersion
	}
	version := strconv.FormatInt(aws.ToInt64(found.VersionNumber), 10)
	t := versionTemplate(ltID, version, *found)
	d.mu.Lock()
	d.templates[t.ID] = t
	d.descs[t.ID] = aws.ToString(found.VersionDescription)
	d.mu.Unlock()
	return t, nil
}

// TemplateDrift says why PrepareTemplate(s) would now make a template other
// than the one the group points at because the base launch template's
// default version moved on (aws_launch_template with update_default_version,
// say): every version noderoll makes is copied from the base's default at
// the time, so the next rollout of any kind would replace every node. It
// returns "" when the group's version was made for s from the current
// default, when s itself differs (a plan shows that change already), and
// when the group's version was not made by noderoll for this pool.
//
// It creates nothing: one DescribeAutoScalingGroups, one
// DescribeLaunchTemplates, and DescribeLaunchTemplateVersions only when the
// group's version is not cached yet (Describe caches it). A missing group is
// a rollout.NotFound error.
func (d *Driver) TemplateDrift(ctx context.Context, s rollout.Spec) (string, error) {
	g, err := d.describeGroup(ctx)
	if err != nil {
		return "", err
	}
	// Every "not ours" case below is drift too: the next apply's
	// PrepareTemplate makes a noderoll version and every node moves to it,
	// so the plan must say so (an imported group, say).
	lt := g.LaunchTemplate
	if lt == nil {
		return fmt.Sprintf("group %s does not name a launch template directly (a launch configuration or a mixed instances policy): the next apply points it at a numbered version of the base launch template and replaces every node", d.group), nil
	}
	ltID, version := aws.ToString(lt.LaunchTemplateId), aws.ToString(lt.Version)
	if _, err := strconv.Atoi(version); err != nil {
		return fmt.Sprintf("group %s runs launch template %s version %s, which moves on its own: the next apply pins a numbered version and replaces every node", d.group, ltID, version), nil
	}
	baseID, baseVersion, err := d.base(ctx)
	if err != nil {
		return "", err
	}
	if ltID != baseID {
		return fmt.Sprintf("group %s runs launch template %s, not the base launch template %s: the next apply replaces every node", d.group, ltID, baseID), nil
	}
	desc, err := d.description(ctx, ltID, version)
	if rollout.CodeOf(d, err) == rollout.NotFound {
		return fmt.Sprintf("group %s runs launch template version %s, which no longer exists: the next apply replaces every node", d.group, templateID(ltID, version)), nil
	}
	if err != nil {
		return "", err
	}
	if desc == d.versionMarker(baseVersion, s) {
		return "", nil
	}
	made, ok := d.markerBase(desc)
	if !ok {
		return fmt.Sprintf("group %s runs launch template version %s, which noderoll did not make for pool %s: the next apply replaces every node with a noderoll version", d.group, templateID(ltID, version), d.o.PoolName), nil
	}
	if made == baseVersion || desc != d.versionMarker(made, s) {
		// The spec itself differs: the plan shows that change already.
		return "", nil
	}
	return fmt.Sprintf("base launch template %s changed: its default version is now %d, and the pool's template %s was made from version %d",
		baseID, baseVersion, templateID(ltID, version), made), nil
}

// markerBase reads the base version from this pool's marker.
func (d *Driver) markerBase(desc string) (int64, bool) {
	rest, ok := strings.CutPrefix(desc, d.markerPrefix()+"base=")
	if !ok {
		return 0, false
	}
	num, _, ok := strings.Cut(rest, " ")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(num, 10, 64)
	return n, err == nil
}

// Create makes the Auto Scaling group on t with a desired size (and MinSize)
// of 0, tagged as noderoll's. A group that exists already on t is not an
// error.
func (d *Driver) Create(ctx context.Context, t rollout.Template) error {
	ltID, version, err := parseTemplateID(t.ID)
	if err != nil {
		return err
	}
	maxSize := d.o.MaxSize
	if maxSize == 0 {
		maxSize = max(DefaultMaxSize, d.o.MinSize)
	}
	in := &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(d.group),
		LaunchTemplate:       &asgtypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(ltID), Version: aws.String(version)},
		// The group starts empty so the engine grows it with health gating;
		// the user's MinSize is remembered in a tag and applied by Resize
		// once the pool has reached it.
		MinSize:         aws.Int32(0),
		MaxSize:         aws.Int32(int32(maxSize)),
		DesiredCapacity: aws.Int32(0),
		Tags: []asgtypes.Tag{
			{Key: aws.String(TagPool), Value: aws.String(d.pool), PropagateAtLaunch: aws.Bool(true)},
			{Key: aws.String(TagManaged), Value: aws.String("true"), PropagateAtLaunch: aws.Bool(false)},
		},
	}
	if d.o.MinSize > 0 {
		in.Tags = append(in.Tags, asgtypes.Tag{Key: aws.String(TagMinSize), Value: aws.String(strconv.Itoa(d.o.MinSize)), PropagateAtLaunch: aws.Bool(false)})
	}
	if len(d.o.SubnetIDs) > 0 {
		in.VPCZoneIdentifier = aws.String(strings.Join(d.o.SubnetIDs, ","))
	}
	if len(d.o.TargetGroupARNs) > 0 {
		in.TargetGroupARNs = d.o.TargetGroupARNs
	}
	if d.o.UseELBHealth {
		in.HealthCheckType = aws.String("ELB")
	}
	if d.o.HealthCheckGracePeriod > 0 {
		in.HealthCheckGracePeriod = aws.Int32(int32(d.o.HealthCheckGracePeriod.Seconds()))
	}
	_, err = d.asg.CreateAutoScalingGroup(ctx, in)
	if err == nil {
		return nil
	}
	if apiCode(err) != "AlreadyExists" {
		return fmt.Errorf("asg: create group %s on %s: %w", d.group, t.ID, err)
	}
	g, derr := d.describeGroup(ctx)
	if derr != nil {
		return fmt.Errorf("asg: create group %s: it exists, but: %w", d.group, derr)
	}
	if lt := g.LaunchTemplate; lt != nil && aws.ToString(lt.LaunchTemplateId) == ltID && aws.ToString(lt.Version) == version {
		return nil // a retried Create whose first response was lost
	}
	return fmt.Errorf("asg: create group %s on %s: a group of that name exists on another template (%s): %w", d.group, t.ID, groupTemplate(g), err)
}

func groupTemplate(g asgtypes.AutoScalingGroup) string {
	if lt := g.LaunchTemplate; lt != nil {
		return templateID(aws.ToString(lt.LaunchTemplateId), aws.ToString(lt.Version))
	}
	return "no launch template"
}

// UseTemplate points the group at t. With an origin it first records the
// origin in a tag (so an interrupted run knows where to roll back to) and
// suspends AZRebalance (so Auto Scaling does not move nodes between zones
// under the rollout); with no origin it clears both after switching.
func (d *Driver) UseTemplate(ctx context.Context, t rollout.Template, origin string) error {
	ltID, version, err := parseTemplateID(t.ID)
	if err != nil {
		return err
	}
	name := aws.String(d.group)
	if origin != "" {
		if _, err := d.asg.CreateOrUpdateTags(ctx, &autoscaling.CreateOrUpdateTagsInput{Tags: []asgtypes.Tag{d.tag(TagOrigin, origin)}}); err != nil {
			return fmt.Errorf("asg: record rollout origin %s on group %s: %w", origin, d.group, err)
		}
		if _, err := d.asg.SuspendProcesses(ctx, &autoscaling.SuspendProcessesInput{AutoScalingGroupName: name, ScalingProcesses: []string{"AZRebalance"}}); err != nil {
			return fmt.Errorf("asg: suspend AZRebalance on group %s: %w", d.group, err)
		}
	}
	if _, err := d.asg.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{
		AutoScalingGroupName: name,
		LaunchTemplate:       &asgtypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(ltID), Version: aws.String(version)},
	}); err != nil {
		return fmt.Errorf("asg: point group %s at %s: %w", d.group, t.ID, err)
	}
	if origin == "" {
		if _, err := d.asg.DeleteTags(ctx, &autoscaling.DeleteTagsInput{Tags: []asgtypes.Tag{d.tag(TagOrigin, "")}}); err != nil {
			return fmt.Errorf("asg: clear rollout origin on group %s: %w", d.group, err)
		}
		if _, err := d.asg.ResumeProcesses(ctx, &autoscaling.ResumeProcessesInput{AutoScalingGroupName: name, ScalingProcesses: []string{"AZRebalance"}}); err != nil {
			return fmt.Errorf("asg: resume AZRebalance on group %s: %w", d.group, err)
		}
	}
	return nil
}

func (d *Driver) tag(key, value string) asgtypes.Tag {
	return asgtypes.Tag{
		ResourceId: aws.String(d.group), ResourceType: aws.String("auto-scaling-group"),
		Key: aws.String(key), Value: aws.String(value), PropagateAtLaunch: aws.Bool(false),
	}
}

// Resize sets the desired capacity. When size is above the group's MaxSize
// it raises MaxSize in the same call and remembers the old one in the
// noderoll:max-size tag; once the pool is back within it, MaxSize is
// restored. The same holds for MinSize below (noderoll:min-size), so a
// pool can be emptied before it is deleted.
func (d *Driver) Resize(ctx context.Context, size int) error {
	if size < 0 {
		return rollout.Errorf(rollout.Invalid, "asg: size %d is negative", size)
	}
	g, err := d.describeGroup(ctx)
	if err != nil {
		return err
	}
	return d.setBounds(ctx, g, size)
}

// setBounds sets desired = size, widening or restoring Min/MaxSize as needed.
func (d *Driver) setBounds(ctx context.Context, g asgtypes.AutoScalingGroup, size int) error {
	tags := groupTags(g)
	curMin, curMax := int(aws.ToInt32(g.MinSize)), int(aws.ToInt32(g.MaxSize))
	newMin, newMax := curMin, curMax
	var record []asgtypes.Tag
	var forget []asgtypes.Tag

	userMax, hasMax := atoi(tags[TagMaxSize])
	switch {
	case size > curMax:
		newMax = size
		if !hasMax {
			record = append(record, d.tag(TagMaxSize, strconv.Itoa(curMax)))
		}
	case hasMax && size <= userMax:
		newMax = userMax
		forget = append(forget, d.tag(TagMaxSize, ""))
	}
	userMin, hasMin := atoi(tags[TagMinSize])
	switch {
	case size < curMin:
		newMin = size
		if !hasMin {
			record = append(record, d.tag(TagMinSize, strconv.Itoa(curMin)))
		}
	case hasMin && size >= userMin:
		newMin = userMin
		forget = append(forget, d.tag(TagMinSize, ""))
	}
	// Record the user's bounds before changing them, so an interruption
	// never loses them.
	if len(record) > 0 {
		if _, err := d.asg.CreateOrUpdateTags(ctx, &autoscaling.CreateOrUpdateTagsInput{Tags: record}); err != nil {
			return fmt.Errorf("asg: record size bounds of group %s: %w", d.group, err)
		}
	}
	if newMin == curMin && newMax == curMax {
		if _, err := d.asg.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{
			AutoScalingGroupName: aws.String(d.group), DesiredCapacity: aws.Int32(int32(size)), HonorCooldown: aws.Bool(false),
		}); err != nil {
			return fmt.Errorf("asg: set desired capacity of group %s to %d: %w", d.group, size, err)
		}
	} else if _, err := d.asg.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(d.group), DesiredCapacity: aws.Int32(int32(size)),
		MinSize: aws.Int32(int32(newMin)), MaxSize: aws.Int32(int32(newMax)),
	}); err != nil {
		return fmt.Errorf("asg: resize group %s to %d (min %d, max %d): %w", d.group, size, newMin, newMax, err)
	}
	if len(forget) > 0 {
		if _, err := d.asg.DeleteTags(ctx, &autoscaling.DeleteTagsInput{Tags: forget}); err != nil {
			return fmt.Errorf("asg: clear size bound tags of group %s: %w", d.group, err)
		}
	}
	return nil
}

func atoi(s string) (int, bool) {
	n, err := strconv.Atoi(s)
	return n, err == nil && s != ""
}

// RemoveNodes terminates exactly these instances and shrinks the desired
// capacity by one for each (TerminateInstanceInAutoScalingGroup with
// ShouldDecrementDesiredCapacity). Instances no longer in the group, or
// already terminating, are skipped. Scale-in protection is cleared first:
// noderoll was asked to remove the node, and protection only guards against
// Auto Scaling's own scale-in. MinSize is lowered (and remembered) when the
// removal would go below it.
func (d *Driver) RemoveNodes(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	g, err := d.describeGroup(ctx)
	if err != nil {
		if rollout.CodeOf(d, err) == rollout.NotFound {
			return nil // the group is gone, and its nodes with it
		}
		return err
	}
	members := map[string]asgtypes.Instance{}
	for _, in := range g.Instances {
		members[aws.ToString(in.InstanceId)] = in
	}
	var todo, protected []string
	for _, id := range ids {
		in, ok := members[id]
		if !ok || strings.HasPrefix(string(in.LifecycleState), "Terminating") || in.LifecycleState == asgtypes.LifecycleStateTerminated {
			continue
		}
		todo = append(todo, id)
		if aws.ToBool(in.ProtectedFromScaleIn) {
			protected = append(protected, id)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	if len(protected) > 0 {
		if _, err := d.asg.SetInstanceProtection(ctx, &autoscaling.SetInstanceProtectionInput{
			AutoScalingGroupName: aws.String(d.group), InstanceIds: protected, ProtectedFromScaleIn: aws.Bool(false),
		}); err != nil {
			return fmt.Errorf("asg: clear scale-in protection of %v in group %s: %w", protected, d.group, err)
		}
	}
	desired := int(aws.ToInt32(g.DesiredCapacity))
	if after := desired - len(todo); after < int(aws.ToInt32(g.MinSize)) && after >= 0 {
		// Lower MinSize (remembering it) without changing desired here:
		// each termination below decrements it.
		if err := d.lowerMin(ctx, g, after); err != nil {
			return err
		}
	}
	var errs []error
	for _, id := range todo {
		_, err := d.asg.TerminateInstanceInAutoScalingGroup(ctx, &autoscaling.TerminateInstanceInAutoScalingGroupInput{
			InstanceId: aws.String(id), ShouldDecrementDesiredCapacity: aws.Bool(true),
		})
		if err != nil && d.ErrorCode(err) != rollout.NotFound {
			errs = append(errs, fmt.Errorf("asg: terminate %s in group %s: %w", id, d.group, err))
		}
	}
	return errors.Join(errs...)
}

func (d *Driver) lowerMin(ctx context.Context, g asgtypes.AutoScalingGroup, newMin int) error {
	tags := groupTags(g)
	if _, ok := atoi(tags[TagMinSize]); !ok {
		if _, err := d.asg.CreateOrUpdateTags(ctx, &autoscaling.CreateOrUpdateTagsInput{
			Tags: []asgtypes.Tag{d.tag(TagMinSize, strconv.Itoa(int(aws.ToInt32(g.MinSize))))},
		}); err != nil {
			return fmt.Errorf("asg: record min size of group %s: %w", d.group, err)
		}
	}
	if _, err := d.asg.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(d.group), MinSize: aws.Int32(int32(newMin)),
	}); err != nil {
		return fmt.Errorf("asg: lower min size of group %s to %d: %w", d.group, newMin, err)
	}
	return nil
}

// Delete deletes the group and the launch template versions noderoll made
// for this pool (never the base template, nor its default version). A plain
// DeleteAutoScalingGroup is sent when the group is empty; ForceDelete only
// when instances remain, since a plain delete would fail on them. The
// engine calls Delete after removing every node, so what remains then is at
// most instances still shutting down.
func (d *Driver) Delete(ctx context.Context) error {
	g, err := d.describeGroup(ctx)
	switch {
	case err != nil && rollout.CodeOf(d, err) != rollout.NotFound:
		return err
	case err == nil && !deleting(g):
		_, err := d.asg.DeleteAutoScalingGroup(ctx, &autoscaling.DeleteAutoScalingGroupInput{
			AutoScalingGroupName: aws.String(d.group), ForceDelete: aws.Bool(len(g.Instances) > 0),
		})
		if err != nil && d.ErrorCode(err) != rollout.NotFound {
			return fmt.Errorf("asg: delete group %s: %w", d.group, err)
		}
	}
	return d.deleteVersions(ctx)
}

// deleteVersions removes the versions of the base template whose marker
// names this pool, except the default version.
func (d *Driver) deleteVersions(ctx context.Context) error {
	ltID, _, err := d.base(ctx)
	if err != nil {
		if rollout.CodeOf(d, err) == rollout.NotFound {
			return nil // the base template is gone, and its versions with it
		}
		return err
	}
	var mine []string
	p := ec2.NewDescribeLaunchTemplateVersionsPaginator(d.ec2, &ec2.DescribeLaunchTemplateVersionsInput{LaunchTemplateId: aws.String(ltID)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("asg: list versions of %s: %w", ltID, err)
		}
		for _, v := range page.LaunchTemplateVersions {
			if strings.HasPrefix(aws.ToString(v.VersionDescription), d.markerPrefix()) && !aws.ToBool(v.DefaultVersion) {
				mine = append(mine, strconv.FormatInt(aws.ToInt64(v.VersionNumber), 10))
			}
		}
	}
	const perCall = 200 // DeleteLaunchTemplateVersions takes at most 200 versions
	for start := 0; start < len(mine); start += perCall {
		batch := mine[start:min(start+perCall, len(mine))]
		out, err := d.ec2.DeleteLaunchTemplateVersions(ctx, &ec2.DeleteLaunchTemplateVersionsInput{
			LaunchTemplateId: aws.String(ltID), Versions: batch,
		})
		if err != nil {
			return fmt.Errorf("asg: delete %d versions of %s: %w", len(batch), ltID, err)
		}
		var failed []string
		for _, f := range out.UnsuccessfullyDeletedLaunchTemplateVersions {
			if f.ResponseError != nil && f.ResponseError.Code == ec2types.LaunchTemplateErrorCodeLaunchTemplateVersionDoesNotExist {
				continue // deleted by a call whose response was lost
			}
			msg := ""
			if f.ResponseError != nil {
				msg = string(f.ResponseError.Code) + ": " + aws.ToString(f.ResponseError.Message)
			}
			failed = append(failed, fmt.Sprintf("%d (%s)", aws.ToInt64(f.VersionNumber), msg))
		}
		if len(failed) > 0 {
			return fmt.Errorf("asg: could not delete versions of %s: %s", ltID, strings.Join(failed, ", "))
		}
	}
	d.mu.Lock()
	for id := range d.templates {
		if strings.HasPrefix(id, ltID+":") {
			delete(d.templates, id)
			delete(d.descs, id)
		}
	}
	d.mu.Unlock()
	return nil
}
