package asg

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/noderoll/terraform-provider-noderoll/rollout"
)

// ImageQuery selects an AMI for the noderoll_image data source: either an
// SSM parameter that holds an AMI id (AWS publishes the latest images under
// /aws/service/..., e.g.
// /aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64), or
// the newest available image by owners, name pattern and tags.
type ImageQuery struct {
	// Owners are account ids or aliases ("self", "amazon"). Required unless
	// SSMParameter is set: without owners anyone's public image could match.
	Owners []string
	// NameFilter is an EC2 name pattern: * matches any run, ? one character.
	NameFilter string
	// Tags the image must carry, exactly.
	Tags map[string]string
	// SSMParameter, when set, is read instead of searching; the other fields
	// must be empty.
	SSMParameter string
}

// Image is a resolved AMI. ID is immutable: pin it in the pool's spec.
type Image struct {
	ID           string
	Name         string
	CreationDate time.Time
}

// ImageResolver looks up AMIs. It needs only the connection fields of
// Options (region, profile, role, endpoints, credentials, HTTP client).
type ImageResolver struct {
	d *Driver
}

// NewImageResolver builds the EC2 and SSM clients for image lookups; pool
// fields of o are ignored.
func NewImageResolver(ctx context.Context, o Options) (*ImageResolver, error) {
	cfg, err := loadConfig(ctx, o)
	if err != nil {
		return nil, err
	}
	return &ImageResolver{d: &Driver{
		o:   o,
		ec2: ec2.NewFromConfig(cfg, func(eo *ec2.Options) { setEndpoint(&eo.BaseEndpoint, o.Endpoints.EC2) }),
		ssm: ssm.NewFromConfig(cfg, func(so *ssm.Options) { setEndpoint(&so.BaseEndpoint, o.Endpoints.SSM) }),
	}}, nil
}

// ResolveImage resolves q with a resolver made from this driver's clients.
func (d *Driver) ResolveImage(ctx context.Context, q ImageQuery) (Image, error) {
	return (&ImageResolver{d: d}).ResolveImage(ctx, q)
}

// ErrorCode classifies the resolver's errors as Driver.ErrorCode does.
func (r *ImageResolver) ErrorCode(err error) rollout.ErrorCode { return classify(err) }

// ResolveImage returns the AMI q selects: the SSM parameter's value
// (described, to return its name and date), or the image with the newest
// CreationDate among those matching owners, name and tags (ties broken by
// the larger id, so the answer is stable). No match is a rollout.NotFound
// error naming the query.
func (r *ImageResolver) ResolveImage(ctx context.Context, q ImageQuery) (Image, error) {
	if q.SSMParameter != "" {
		if len(q.Owners) > 0 || q.NameFilter != "" || len(q.Tags) > 0 {
			return Image{}, rollout.Errorf(rollout.Invalid, "asg: image query: ssm_parameter excludes owners, name and tags")
		}
		return r.fromParameter(ctx, q.SSMParameter)
	}
	if len(q.Owners) == 0 {
		return Image{}, rollout.Errorf(rollout.Invalid, "asg: image query: owners is empty: want account ids or aliases such as \"self\" or \"amazon\"")
	}
	in := &ec2.DescribeImagesInput{
		Owners:  q.Owners,
		Filters: []ec2types.Filter{{Name: aws.String("state"), Values: []string{"available"}}},
	}
	if q.NameFilter != "" {
		in.Filters = append(in.Filters, ec2types.Filter{Name: aws.String("name"), Values: []string{q.NameFilter}})
	}
	keys := make([]string, 0, len(q.Tags))
	for k := range q.Tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		in.Filters = append(in.Filters, ec2types.Filter{Name: aws.String("tag:" + k), Values: []string{q.Tags[k]}})
	}
	var best *Image
	p := ec2.NewDescribeImagesPaginator(r.d.ec2, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return Image{}, fmt.Errorf("asg: describe images (%s): %w", describeQuery(q), err)
		}
		for _, im := range page.Images {
			c, err := toImage(im)
			if err != nil {
				return Image{}, err
			}
			if best == nil || c.CreationDate.After(best.CreationDate) || (c.CreationDate.Equal(best.CreationDate) && c.ID > best.ID) {
				best = &c
			}
		}
	}
	if best == nil {
		return Image{}, rollout.Errorf(rollout.NotFound, "asg: no available image matches %s", describeQuery(q))
	}
	return *best, nil
}

func (r *ImageResolver) fromParameter(ctx context.Context, name string) (Image, error) {
	out, err := r.d.ssm.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name)})
	if err != nil {
		return Image{}, fmt.Errorf("asg: read SSM parameter %s: %w", name, err)
	}
	id := aws.ToString(out.Parameter.Value)
	if !strings.HasPrefix(id, "ami-") {
		return Image{}, rollout.Errorf(rollout.Invalid, "asg: SSM parameter %s holds %q, not an AMI id", name, id)
	}
	imgs, err := r.d.ec2.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{id}})
	if err != nil {
		return Image{}, fmt.Errorf("asg: describe image %s from SSM parameter %s: %w", id, name, err)
	}
	if len(imgs.Images) != 1 {
		return Image{}, rollout.Errorf(rollout.NotFound, "asg: image %s from SSM parameter %s not found", id, name)
	}
	return toImage(imgs.Images[0])
}

func toImage(im ec2types.Image) (Image, error) {
	out := Image{ID: aws.ToString(im.ImageId), Name: aws.ToString(im.Name)}
	if s := aws.ToString(im.CreationDate); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return Image{}, fmt.Errorf("asg: image %s has creation date %q: %w", out.ID, s, err)
		}
		out.CreationDate = t
	}
	return out, nil
}

func describeQuery(q ImageQuery) string {
	parts := []string{"owners " + strings.Join(q.Owners, ",")}
	if q.NameFilter != "" {
		parts = append(parts, fmt.Sprintf("name %q", q.NameFilter))
	}
	keys := make([]string, 0, len(q.Tags))
	for k := range q.Tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("tag %s=%s", k, q.Tags[k]))
	}
	return strings.Join(parts, ", ")
}
