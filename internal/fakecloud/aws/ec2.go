package aws

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

func (c *Cloud) ec2(action string, f url.Values) (string, *apiError) {
	switch action {
	case "CreateLaunchTemplate":
		return c.createLaunchTemplate(f)
	case "CreateLaunchTemplateVersion":
		return c.createLaunchTemplateVersion(f)
	case "DescribeLaunchTemplates":
		return c.describeLaunchTemplates(f)
	case "DescribeLaunchTemplateVersions":
		return c.describeLaunchTemplateVersions(f)
	case "DeleteLaunchTemplateVersions":
		return c.deleteLaunchTemplateVersions(f)
	case "DeleteLaunchTemplate":
		return c.deleteLaunchTemplate(f)
	case "ModifyLaunchTemplate":
		return c.modifyLaunchTemplate(f)
	case "DescribeInstances":
		return c.describeInstances(f)
	case "DescribeImages":
		return c.describeImages(f)
	}
	return "", errorf(400, "InvalidAction", "The action %s is not valid for this web service.", action)
}

func writeTags(b *xb, tags map[string]string) {
	if len(tags) == 0 {
		return
	}
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b.open("tagSet")
	for _, k := range keys {
		b.open("item")
		b.leaf("key", k)
		b.leaf("value", tags[k])
		b.close("item")
	}
	b.close("tagSet")
}

func (c *Cloud) writeLaunchTemplate(b *xb, name string, lt *launchTemplate) {
	b.open(name)
	b.leaf("createTime", ts(lt.created))
	b.leaf("createdBy", "arn:aws:iam::"+c.opts.AccountID+":root")
	b.leaf("defaultVersionNumber", strconv.Itoa(lt.defaultVersion))
	b.leaf("latestVersionNumber", strconv.Itoa(lt.latestVersion))
	b.leaf("launchTemplateId", lt.id)
	b.leaf("launchTemplateName", lt.name)
	writeTags(b, lt.tags)
	b.close(name)
}

func (c *Cloud) writeVersion(b *xb, name string, lt *launchTemplate, v *ltVersion) {
	b.open(name)
	b.leaf("createTime", ts(v.created))
	b.leaf("createdBy", "arn:aws:iam::"+c.opts.AccountID+":root")
	b.leaf("defaultVersion", strconv.FormatBool(v.number == lt.defaultVersion))
	b.open("launchTemplateData")
	b.leafIf("imageId", v.imageID)
	b.leafIf("instanceType", v.instanceType)
	b.close("launchTemplateData")
	b.leaf("launchTemplateId", lt.id)
	b.leaf("launchTemplateName", lt.name)
	b.leafIf("versionDescription", v.description)
	b.leaf("versionNumber", strconv.Itoa(v.number))
	b.close(name)
}

// findTemplate resolves LaunchTemplateId or LaunchTemplateName.
func (c *Cloud) findTemplate(f url.Values) (*launchTemplate, *apiError) {
	if id := f.Get("LaunchTemplateId"); id != "" {
		lt := c.templates[id]
		if lt == nil {
			return nil, errorf(400, "InvalidLaunchTemplateId.NotFound", "The specified launch template, with template ID %s, does not exist.", id)
		}
		return lt, nil
	}
	if name := f.Get("LaunchTemplateName"); name != "" {
		for _, lt := range c.templates {
			if lt.name == name {
				return lt, nil
			}
		}
		return nil, errorf(400, "InvalidLaunchTemplateName.NotFoundException", "The specified launch template, with template name %s, does not exist.", name)
	}
	return nil, errorf(400, "MissingParameter", "The request must contain the parameter LaunchTemplateId or LaunchTemplateName.")
}

func (c *Cloud) createLaunchTemplate(f url.Values) (string, *apiError) {
	name := f.Get("LaunchTemplateName")
	if name == "" {
		return "", errorf(400, "MissingParameter", "The request must contain the parameter LaunchTemplateName.")
	}
	if tok := f.Get("ClientToken"); tok != "" {
		if ref, ok := c.tplTokens["create:"+tok]; ok {
			var b xb
			c.writeLaunchTemplate(&b, "launchTemplate", c.templates[ref])
			return b.String(), nil
		}
	}
	for _, lt := range c.templates {
		if lt.name == name {
			return "", errorf(400, "InvalidLaunchTemplateName.AlreadyExistsException", "Launch template name already in use.")
		}
	}
	now := time.Now()
	lt := &launchTemplate{
		id: "lt-" + randomHex(17), name: name, created: now,
		defaultVersion: 1, latestVersion: 1,
		versions: map[int]*ltVersion{1: {
			number: 1, description: f.Get("VersionDescription"), created: now,
			imageID: f.Get("LaunchTemplateData.ImageId"), instanceType: f.Get("LaunchTemplateData.InstanceType"),
		}},
		tags: map[string]string{},
	}
	for i := 1; ; i++ {
		rt, ok := f[fmt.Sprintf("TagSpecification.%d.ResourceType", i)]
		if !ok {
			break
		}
		if rt[0] != "launch-template" {
			continue
		}
		for j := 1; ; j++ {
			k, ok := f[fmt.Sprintf("TagSpecification.%d.Tag.%d.Key", i, j)]
			if !ok {
				break
			}
			lt.tags[k[0]] = f.Get(fmt.Sprintf("TagSpecification.%d.Tag.%d.Value", i, j))
		}
	}
	c.templates[lt.id] = lt
	if tok := f.Get("ClientToken"); tok != "" {
		c.tplTokens["create:"+tok] = lt.id
	}
	var b xb
	c.writeLaunchTemplate(&b, "launchTemplate", lt)
	return b.String(), nil
}

func (c *Cloud) createLaunchTemplateVersion(f url.Values) (string, *apiError) {
	lt, aerr := c.findTemplate(f)
	if aerr != nil {
		return "", aerr
	}
	tok := f.Get("ClientToken")
	if tok != "" {
		if ref, ok := c.tplTokens["version:"+tok]; ok {
			id, num, _ := strings.Cut(ref, ":")
			n, _ := strconv.Atoi(num)
			if id != lt.id {
				return "", errorf(400, "IdempotentParameterMismatch", "Client token %s was used with a different launch template.", tok)
			}
			if v := lt.versions[n]; v != nil {
				var b xb
				c.writeVersion(&b, "launchTemplateVersion", lt, v)
				return b.String(), nil
			}
		}
	}
	v := &ltVersion{description: f.Get("VersionDescription"), created: time.Now()}
	if src := f.Get("SourceVersion"); src != "" {
		_, sv, aerr := c.resolveVersionLocked(lt.id, src)
		if aerr != nil {
			return "", aerr
		}
		v.imageID, v.instanceType = sv.imageID, sv.instanceType
	}
	if s := f.Get("LaunchTemplateData.ImageId"); s != "" {
		if !strings.HasPrefix(s, "ami-") {
			return "", errorf(400, "InvalidAMIID.Malformed", "Invalid id: %q (expecting \"ami-...\")", s)
		}
		v.imageID = s
	}
	if s := f.Get("LaunchTemplateData.InstanceType"); s != "" {
		v.instanceType = s
	}
	lt.latestVersion++
	v.number = lt.latestVersion
	lt.versions[v.number] = v
	if tok != "" {
		c.tplTokens["version:"+tok] = fmt.Sprintf("%s:%d", lt.id, v.number)
	}
	var b xb
	c.writeVersion(&b, "launchTemplateVersion", lt, v)
	return b.String(), nil
}

func (c *Cloud) describeLaunchTemplates(f url.Values) (string, *apiError) {
	ids, names := list(f, "LaunchTemplateId"), list(f, "LaunchTemplateName")
	var out []*launchTemplate
	for _, id := range ids {
		lt := c.templates[id]
		if lt == nil {
			return "", errorf(400, "InvalidLaunchTemplateId.NotFound", "At least one of the launch templates specified in the request does not exist.")
		}
		out = append(out, lt)
	}
	for _, name := range names {
		var found *launchTemplate
		for _, lt := range c.templates {
			if lt.name == name {
				found = lt
			}
		}
		if found == nil {
			return "", errorf(400, "InvalidLaunchTemplateName.NotFoundException", "At least one of the launch templates specified in the request does not exist.")
		}
		out = append(out, found)
	}
	if len(ids) == 0 && len(names) == 0 {
		for _, lt := range c.templates {
			out = append(out, lt)
		}
	}
	filters := ec2Filters(f)
	kept := out[:0]
	for _, lt := range out {
		ok := true
		for _, fl := range filters {
			switch {
			case fl.name == "launch-template-name":
				ok = ok && anyMatch(fl.values, lt.name)
			case strings.HasPrefix(fl.name, "tag:"):
				v, has := lt.tags[strings.TrimPrefix(fl.name, "tag:")]
				ok = ok && has && anyMatch(fl.values, v)
			default:
				return "", errorf(400, "InvalidParameterValue", "The filter '%s' is invalid", fl.name)
			}
		}
		if ok {
			kept = append(kept, lt)
		}
	}
	out = kept
	sort.Slice(out, func(i, j int) bool {
		return out[i].created.Before(out[j].created) || (out[i].created.Equal(out[j].created) && out[i].id < out[j].id)
	})
	from, to, next, aerr := page(len(out), f.Get("NextToken"), pageSize(f.Get("MaxResults"), 0, 200))
	if aerr != nil {
		return "", aerr
	}
	var b xb
	b.open("launchTemplates")
	for _, lt := range out[from:to] {
		c.writeLaunchTemplate(&b, "item", lt)
	}
	b.close("launchTemplates")
	b.leafIf("nextToken", next)
	return b.String(), nil
}

func (c *Cloud) describeLaunchTemplateVersions(f url.Values) (string, *apiError) {
	lt, aerr := c.findTemplate(f)
	if aerr != nil {
		return "", aerr
	}
	var vs []*ltVersion
	if specs := list(f, "LaunchTemplateVersion"); len(specs) > 0 {
		for _, s := range specs {
			_, v, aerr := c.resolveVersionLocked(lt.id, s)
			if aerr != nil {
				return "", aerr
			}
			vs = append(vs, v)
		}
	} else {
		minV, maxV := 0, 1<<31
		if s := f.Get("MinVersion"); s != "" {
			minV, _ = strconv.Atoi(s)
		}
		if s := f.Get("MaxVersion"); s != "" {
			maxV, _ = strconv.Atoi(s)
		}
		for n, v := range lt.versions {
			if n >= minV && n <= maxV {
				vs = append(vs, v)
			}
		}
	}
	filters := ec2Filters(f)
	kept := vs[:0]
	for _, v := range vs {
		ok := true
		for _, fl := range filters {
			switch fl.name {
			case "image-id":
				ok = ok && anyMatch(fl.values, v.imageID)
			case "instance-type":
				ok = ok && anyMatch(fl.values, v.instanceType)
			case "is-default-version":
				ok = ok && anyMatch(fl.values, strconv.FormatBool(v.number == lt.defaultVersion))
			default:
				return "", errorf(400, "InvalidParameterValue", "The filter '%s' is invalid", fl.name)
			}
		}
		if ok {
			kept = append(kept, v)
		}
	}
	vs = kept
	sort.Slice(vs, func(i, j int) bool { return vs[i].number < vs[j].number })
	from, to, next, aerr := page(len(vs), f.Get("NextToken"), pageSize(f.Get("MaxResults"), c.opts.VersionPageSize, 200))
	if aerr != nil {
		return "", aerr
	}
	var b xb
	b.open("launchTemplateVersionSet")
	for _, v := range vs[from:to] {
		c.writeVersion(&b, "item", lt, v)
	}
	b.close("launchTemplateVersionSet")
	b.leafIf("nextToken", next)
	return b.String(), nil
}

func (c *Cloud) deleteLaunchTemplateVersions(f url.Values) (string, *apiError) {
	lt, aerr := c.findTemplate(f)
	if aerr != nil {
		return "", aerr
	}
	specs := list(f, "LaunchTemplateVersion")
	if len(specs) == 0 {
		return "", errorf(400, "MissingParameter", "The request must contain the parameter LaunchTemplateVersion.")
	}
	if len(specs) > 200 {
		return "", errorf(400, "InvalidParameterValue", "You can specify up to 200 launch template versions per request.")
	}
	var ok, bad xb
	for _, s := range specs {
		n, err := strconv.Atoi(s)
		code, msg := "", ""
		switch {
		case err != nil:
			code, msg = "launchTemplateVersionDoesNotExist", "Launch template version "+s+" is not a version number."
		case lt.versions[n] == nil:
			code, msg = "launchTemplateVersionDoesNotExist", "The specified launch template version does not exist."
		case n == lt.defaultVersion:
			code, msg = "unexpectedError", "Cannot delete the default version of a launch template: set another default first."
		}
		if code != "" {
			bad.open("item")
			bad.leaf("launchTemplateId", lt.id)
			bad.leaf("launchTemplateName", lt.name)
			bad.open("responseError")
			bad.leaf("code", code)
			bad.leaf("message", msg)
			bad.close("responseError")
			bad.leaf("versionNumber", s)
			bad.close("item")
			continue
		}
		delete(lt.versions, n)
		ok.open("item")
		ok.leaf("launchTemplateId", lt.id)
		ok.leaf("launchTemplateName", lt.name)
		ok.leaf("versionNumber", s)
		ok.close("item")
	}
	return "<successfullyDeletedLaunchTemplateVersionSet>" + ok.String() + "</successfullyDeletedLaunchTemplateVersionSet>" +
		"<unsuccessfullyDeletedLaunchTemplateVersionSet>" + bad.String() + "</unsuccessfullyDeletedLaunchTemplateVersionSet>", nil
}

func (c *Cloud) modifyLaunchTemplate(f url.Values) (string, *apiError) {
	lt, aerr := c.findTemplate(f)
	if aerr != nil {
		return "", aerr
	}
	if s := f.Get("SetDefaultVersion"); s != "" {
		_, v, aerr := c.resolveVersionLocked(lt.id, s)
		if aerr != nil {
			return "", aerr
		}
		lt.defaultVersion = v.number
	}
	var b xb
	c.writeLaunchTemplate(&b, "launchTemplate", lt)
	return b.String(), nil
}

func (c *Cloud) deleteLaunchTemplate(f url.Values) (string, *apiError) {
	lt, aerr := c.findTemplate(f)
	if aerr != nil {
		return "", aerr
	}
	delete(c.templates, lt.id)
	var b xb
	c.writeLaunchTemplate(&b, "launchTemplate", lt)
	return b.String(), nil
}

var stateCodes = map[string]int{"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48, "stopping": 64, "stopped": 80}

func (in *instance) tags() map[string]string {
	t := map[string]string{}
	if in.group != nil {
		for k, v := range in.group.tags {
			if v.propagate {
				t[k] = v.value
			}
		}
		t["aws:autoscaling:groupName"] = in.group.name
	}
	return t
}

func (c *Cloud) describeInstances(f url.Values) (string, *apiError) {
	now := time.Now()
	ids := list(f, "InstanceId")
	if len(ids) > 0 && f.Get("MaxResults") != "" {
		return "", errorf(400, "InvalidParameterCombination", "The parameter instancesSet cannot be used with the parameter maxResults")
	}
	var out []*instance
	if len(ids) > 0 {
		var missing []string
		for _, id := range ids {
			in := c.instances[id]
			if in == nil || now.Before(in.visibleAt) {
				missing = append(missing, id)
				continue
			}
			out = append(out, in)
		}
		switch {
		case len(missing) == 1:
			return "", errorf(400, "InvalidInstanceID.NotFound", "The instance ID '%s' does not exist", missing[0])
		case len(missing) > 1:
			return "", errorf(400, "InvalidInstanceID.NotFound", "The instance IDs '%s' do not exist", strings.Join(missing, ", "))
		}
	} else {
		for _, in := range c.instances {
			if !now.Before(in.visibleAt) {
				out = append(out, in)
			}
		}
	}
	filters := ec2Filters(f)
	kept := out[:0]
	for _, in := range out {
		ok := true
		for _, fl := range filters {
			switch {
			case fl.name == "instance-id":
				ok = ok && anyMatch(fl.values, in.id)
			case fl.name == "instance-state-name":
				ok = ok && anyMatch(fl.values, in.state)
			case fl.name == "image-id":
				ok = ok && anyMatch(fl.values, in.imageID)
			case fl.name == "subnet-id":
				ok = ok && anyMatch(fl.values, in.subnet)
			case fl.name == "availability-zone":
				ok = ok && anyMatch(fl.values, in.az)
			case fl.name == "private-ip-address":
				ok = ok && anyMatch(fl.values, in.privateIP)
			case fl.name == "tag-key":
				found := false
				for k := range in.tags() {
					found = found || anyMatch(fl.values, k)
				}
				ok = ok && found
			case strings.HasPrefix(fl.name, "tag:"):
				v, has := in.tags()[strings.TrimPrefix(fl.name, "tag:")]
				ok = ok && has && anyMatch(fl.values, v)
			default:
				return "", errorf(400, "InvalidParameterValue", "The filter '%s' is invalid", fl.name)
			}
		}
		if ok {
			kept = append(kept, in)
		}
	}
	out = kept
	sort.Slice(out, func(i, j int) bool {
		if !out[i].launched.Equal(out[j].launched) {
			return out[i].launched.Before(out[j].launched)
		}
		return out[i].id < out[j].id
	})
	size := 0
	if mr := f.Get("MaxResults"); mr != "" {
		n, _ := strconv.Atoi(mr)
		if n < 5 || n > 1000 {
			return "", errorf(400, "InvalidParameterValue", "Value ( %s ) for parameter maxResults is invalid. Expecting a value between 5 and 1000.", mr)
		}
		size = pageSize(mr, c.opts.InstancePageSize, 1000)
	} else if len(ids) == 0 {
		size = pageSize("", c.opts.InstancePageSize, 1000)
	}
	from, to, next, aerr := page(len(out), f.Get("NextToken"), size)
	if aerr != nil {
		return "", aerr
	}
	var b xb
	b.open("reservationSet")
	for _, in := range out[from:to] {
		b.open("item")
		b.leaf("reservationId", "r-"+in.id[2:])
		b.leaf("ownerId", c.opts.AccountID)
		b.open("instancesSet")
		b.open("item")
		b.leaf("instanceId", in.id)
		b.leaf("imageId", in.imageID)
		b.open("instanceState")
		b.leaf("code", strconv.Itoa(stateCodes[in.state]))
		b.leaf("name", in.state)
		b.close("instanceState")
		if in.state != "terminated" {
			b.leaf("privateIpAddress", in.privateIP)
			b.leaf("privateDnsName", "ip-"+strings.ReplaceAll(in.privateIP, ".", "-")+".ec2.internal")
			b.leafIf("subnetId", in.subnet)
		}
		b.leaf("instanceType", in.instanceType)
		b.leaf("launchTime", ts(in.launched))
		b.open("placement")
		b.leaf("availabilityZone", in.az)
		b.leaf("tenancy", "default")
		b.close("placement")
		if in.stateReason != "" {
			code, msg, _ := strings.Cut(in.stateReason, ": ")
			b.open("stateReason")
			b.leaf("code", code)
			b.leaf("message", msg)
			b.close("stateReason")
		}
		writeTags(&b, in.tags())
		b.close("item")
		b.close("instancesSet")
		b.close("item")
	}
	b.close("reservationSet")
	b.leafIf("nextToken", next)
	return b.String(), nil
}

func (c *Cloud) describeImages(f url.Values) (string, *apiError) {
	var out []*Image
	ids := list(f, "ImageId")
	if len(ids) > 0 {
		for _, id := range ids {
			im := c.images[id]
			if im == nil {
				return "", errorf(400, "InvalidAMIID.NotFound", "The image id '[%s]' does not exist", id)
			}
			out = append(out, im)
		}
	} else {
		for _, im := range c.images {
			out = append(out, im)
		}
	}
	owners := list(f, "Owner")
	filters := ec2Filters(f)
	kept := out[:0]
	for _, im := range out {
		ok := len(owners) == 0
		for _, o := range owners {
			if o == im.OwnerID || (o == "self" && im.OwnerID == c.opts.AccountID) || (o != "" && o == im.OwnerAlias) {
				ok = true
			}
		}
		for _, fl := range filters {
			switch {
			case fl.name == "name":
				ok = ok && anyMatch(fl.values, im.Name)
			case fl.name == "image-id":
				ok = ok && anyMatch(fl.values, im.ID)
			case fl.name == "state":
				ok = ok && anyMatch(fl.values, im.State)
			case fl.name == "architecture":
				ok = ok && anyMatch(fl.values, im.Architecture)
			case fl.name == "owner-id":
				ok = ok && anyMatch(fl.values, im.OwnerID)
			case fl.name == "owner-alias":
				ok = ok && anyMatch(fl.values, im.OwnerAlias)
			case fl.name == "tag-key":
				found := false
				for k := range im.Tags {
					found = found || anyMatch(fl.values, k)
				}
				ok = ok && found
			case strings.HasPrefix(fl.name, "tag:"):
				v, has := im.Tags[strings.TrimPrefix(fl.name, "tag:")]
				ok = ok && has && anyMatch(fl.values, v)
			default:
				return "", errorf(400, "InvalidParameterValue", "The filter '%s' is invalid", fl.name)
			}
		}
		if ok {
			kept = append(kept, im)
		}
	}
	out = kept
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID }) // not by date: callers must sort
	size := 0
	if f.Get("MaxResults") != "" || c.opts.ImagePageSize > 0 {
		size = pageSize(f.Get("MaxResults"), c.opts.ImagePageSize, 1000)
	}
	from, to, next, aerr := page(len(out), f.Get("NextToken"), size)
	if aerr != nil {
		return "", aerr
	}
	var b xb
	b.open("imagesSet")
	for _, im := range out[from:to] {
		b.open("item")
		b.leaf("imageId", im.ID)
		b.leaf("imageLocation", im.OwnerID+"/"+im.Name)
		b.leaf("imageState", im.State)
		b.leaf("imageOwnerId", im.OwnerID)
		b.leaf("creationDate", ts(im.CreationDate))
		b.leaf("isPublic", strconv.FormatBool(im.OwnerAlias == "amazon"))
		b.leaf("architecture", im.Architecture)
		b.leaf("imageType", "machine")
		b.leaf("name", im.Name)
		b.leafIf("imageOwnerAlias", im.OwnerAlias)
		b.leaf("rootDeviceType", "ebs")
		b.leaf("virtualizationType", "hvm")
		b.leaf("hypervisor", "xen")
		writeTags(&b, im.Tags)
		b.close("item")
	}
	b.close("imagesSet")
	b.leafIf("nextToken", next)
	return b.String(), nil
}
