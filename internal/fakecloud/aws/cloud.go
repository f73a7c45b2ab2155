// Package aws is a wire-level fake of the parts of Amazon EC2, EC2 Auto
// Scaling and SSM Parameter Store that noderoll uses. It speaks the real
// protocols (EC2 and Auto Scaling Query: form-encoded POST with XML replies;
// SSM: JSON 1.1 with X-Amz-Target) so the unmodified aws-sdk-go-v2 clients
// work against it through an endpoint override (BaseEndpoint = Cloud.URL())
// with any static credentials. Signatures are not checked.
//
// What it models, because it is what bites real users:
//   - instances boot after Options.BootDelay (Pending -> InService) and each
//     serves HTTP on its own loopback address (127.88.x.y) and Options.HealthPort,
//     behaving as its image says (Options.ImageBehaviour): ok, unhealthy
//     (HTTP 500), crash (no listener; the group marks it Unhealthy and replaces
//     it) or slow (answers after Options.SlowDelay);
//   - eventual consistency: DescribeInstances does not see an instance for
//     Options.ConsistencyDelay after launch (InvalidInstanceID.NotFound when
//     asked by id);
//   - throttling from per-API token buckets (see Limits and PublishedLimits):
//     RequestLimitExceeded from EC2, Throttling from Auto Scaling (HTTP 400),
//     ThrottlingException from SSM;
//   - injected faults (FailNext): InternalError (HTTP 500), ServiceUnavailable
//     (HTTP 503) or any other code (HTTP 400);
//   - pagination (NextToken) with small configurable page sizes.
//
// Time is real (the SDK's HTTP stack is real), so keep the delays small in
// tests: tens of milliseconds.
package aws

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Behaviour is how an instance booted from an image behaves.
type Behaviour string

const (
	// BehaviourOK: boots and answers 200 on its health endpoint.
	BehaviourOK Behaviour = "ok"
	// BehaviourUnhealthy: boots and answers 500.
	BehaviourUnhealthy Behaviour = "unhealthy"
	// BehaviourCrash: never listens; after booting the group marks it
	// Unhealthy and, one BootDelay later, terminates and replaces it.
	BehaviourCrash Behaviour = "crash"
	// BehaviourSlow: answers 200 only after Options.SlowDelay.
	BehaviourSlow Behaviour = "slow"
)

// Image is an AMI the fake knows.
type Image struct {
	ID           string
	Name         string
	OwnerID      string // account id, e.g. "137112412989"
	OwnerAlias   string // "amazon", "self", ... (optional)
	CreationDate time.Time
	State        string // "available" when empty
	Architecture string // "x86_64" when empty
	Tags         map[string]string
}

// Bucket is a token bucket: Size tokens at most, refilled at RefillPerSecond.
// Each call of an API takes one token from that API's own bucket.
type Bucket struct {
	Size            float64
	RefillPerSecond float64
}

// Limits are the token buckets applied per API, by class. A zero Bucket
// disables throttling for that class.
type Limits struct {
	EC2Describe Bucket // EC2 non-mutating actions (Describe*)
	EC2Mutate   Bucket // EC2 mutating actions
	ASGDescribe Bucket // Auto Scaling Describe*
	ASGMutate   Bucket // other Auto Scaling actions
	SSM         Bucket // SSM GetParameter
}

// PublishedLimits returns buckets shaped like the published limits:
//
//   - EC2 request rate limiting is per API and per account and Region. The
//     EC2 throttling guide gives non-mutating actions (Describe*) a bucket of
//     100 tokens refilled at 20 per second, and mutating actions a bucket of
//     200 refilled at 5 per second.
//   - Auto Scaling does not publish its buckets; we assume 40 tokens refilled
//     at 8 per second for Describe* and 20 at 4 per second for the rest,
//     smaller than EC2's, since Auto Scaling throttles earlier in practice.
//   - SSM GetParameter: the default throughput quota of 40 transactions per
//     second, modelled as a bucket of 40 refilled at 40 per second.
func PublishedLimits() Limits {
	return Limits{
		EC2Describe: Bucket{Size: 100, RefillPerSecond: 20},
		EC2Mutate:   Bucket{Size: 200, RefillPerSecond: 5},
		ASGDescribe: Bucket{Size: 40, RefillPerSecond: 8},
		ASGMutate:   Bucket{Size: 20, RefillPerSecond: 4},
		SSM:         Bucket{Size: 40, RefillPerSecond: 40},
	}
}

// Options configure a Cloud. Zero values give a fast, well-behaved cloud.
type Options struct {
	Region    string // "us-east-1" when empty
	AccountID string // "123456789012" when empty

	// BootDelay is how long an instance stays Pending before it is InService
	// (and its health endpoint listens). Default 20ms.
	BootDelay time.Duration
	// TerminateDelay is how long an instance stays Terminating. Default 10ms.
	TerminateDelay time.Duration
	// ConsistencyDelay is how long DescribeInstances cannot see a freshly
	// launched instance. 0: visible at once.
	ConsistencyDelay time.Duration
	// Tick is how often the background loop advances instance lifecycles.
	// Default 5ms.
	Tick time.Duration

	// HealthPort is the port every instance serves its health endpoint on, on
	// its own private address. Default 18080.
	HealthPort int
	// HealthPath is the path answered; other paths get 404. "" answers any path.
	HealthPath string
	// ImageBehaviour maps an AMI id to how its instances behave; images not
	// listed behave as DefaultBehaviour ("ok" when empty).
	ImageBehaviour   map[string]Behaviour
	DefaultBehaviour Behaviour
	// SlowDelay is how long a "slow" instance takes to answer. Default 2s.
	SlowDelay time.Duration

	// Throttle, when non-nil, applies these token buckets per API.
	Throttle *Limits

	// Page sizes: the most records one page returns, whatever the caller's
	// MaxRecords/MaxResults asked. 0 keeps the real service maximum.
	ASGPageSize      int // DescribeAutoScalingGroups, DescribeTags (real max 100)
	InstancePageSize int // DescribeInstances (real max 1000)
	VersionPageSize  int // DescribeLaunchTemplateVersions (real max 200)
	ImagePageSize    int // DescribeImages (real max 1000)

	// Images and Parameters seed DescribeImages and SSM GetParameter.
	Images     []Image
	Parameters map[string]string
}

// Cloud is a running fake. Close it when done.
type Cloud struct {
	opts Options
	srv  *httptest.Server
	stop chan struct{}
	done chan struct{}

	mu        sync.Mutex
	ticks     int // lifecycle advances so far, for tests that wait on them
	calls     map[string]int
	throttled map[string]int
	buckets   map[string]*tokenBucket
	faults    map[string][]string // action -> codes of the next failures

	templates map[string]*launchTemplate // by id
	tplTokens map[string]string          // ClientToken -> "lt-id:version"
	groups    map[string]*group          // by name
	instances map[string]*instance       // by id, including terminated ones
	images    map[string]*Image
	params    map[string]param
	nextIP    uint32
	seq       int
}

type param struct {
	value    string
	modified time.Time
}

// New starts a fake cloud on a loopback port.
func New(o Options) *Cloud {
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	if o.AccountID == "" {
		o.AccountID = "123456789012"
	}
	if o.BootDelay == 0 {
		o.BootDelay = 20 * time.Millisecond
	}
	if o.TerminateDelay == 0 {
		o.TerminateDelay = 10 * time.Millisecond
	}
	if o.Tick == 0 {
		o.Tick = 5 * time.Millisecond
	}
	if o.HealthPort == 0 {
		o.HealthPort = 18080
	}
	if o.SlowDelay == 0 {
		o.SlowDelay = 2 * time.Second
	}
	if o.DefaultBehaviour == "" {
		o.DefaultBehaviour = BehaviourOK
	}
	c := &Cloud{
		opts:      o,
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
		calls:     map[string]int{},
		throttled: map[string]int{},
		buckets:   map[string]*tokenBucket{},
		faults:    map[string][]string{},
		templates: map[string]*launchTemplate{},
		tplTokens: map[string]string{},
		groups:    map[string]*group{},
		instances: map[string]*instance{},
		images:    map[string]*Image{},
		params:    map[string]param{},
		nextIP:    randomIPStart(),
	}
	for _, im := range o.Images {
		c.addImageLocked(im)
	}
	for k, v := range o.Parameters {
		c.params[k] = param{value: v, modified: time.Now()}
	}
	c.srv = httptest.NewServer(http.HandlerFunc(c.serve))
	go c.loop()
	return c
}

// URL is the endpoint for all three services (BaseEndpoint).
func (c *Cloud) URL() string { return c.srv.URL }

// Close stops the API server, the lifecycle loop and every instance's
// health listener.
func (c *Cloud) Close() {
	select {
	case <-c.stop:
		return
	default:
	}
	close(c.stop)
	<-c.done
	c.srv.Close()
	c.mu.Lock()
	var servers []*http.Server
	for _, in := range c.instances {
		if in.health != nil {
			servers = append(servers, in.health)
			in.health = nil
		}
	}
	c.mu.Unlock()
	for _, s := range servers {
		_ = s.Close()
	}
}

// Calls returns how many requests each action received, throttled and
// failed ones included.
func (c *Cloud) Calls() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.calls))
	for k, v := range c.calls {
		out[k] = v
	}
	return out
}

// LifecycleTicks counts the background loop's lifecycle advances, so a test
// can wait for some to pass instead of sleeping.
func (c *Cloud) LifecycleTicks() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ticks
}

// Throttled returns how many requests of each action were refused for
// throttling.
func (c *Cloud) Throttled() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.throttled))
	for k, v := range c.throttled {
		out[k] = v
	}
	return out
}

// ResetCalls zeroes the call and throttle counters.
func (c *Cloud) ResetCalls() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = map[string]int{}
	c.throttled = map[string]int{}
}

// FailNext makes the next n calls of action fail with the error code:
// "InternalError" answers HTTP 500, "ServiceUnavailable" 503, anything else
// 400. For SSM, action is the operation name ("GetParameter").
func (c *Cloud) FailNext(action string, n int, code string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for range n {
		c.faults[action] = append(c.faults[action], code)
	}
}

// SetThrottle replaces the token buckets (nil disables throttling).
func (c *Cloud) SetThrottle(l *Limits) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.opts.Throttle = l
	c.buckets = map[string]*tokenBucket{}
}

// AddImage registers an AMI.
func (c *Cloud) AddImage(im Image) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.addImageLocked(im)
}

func (c *Cloud) addImageLocked(im Image) {
	if im.State == "" {
		im.State = "available"
	}
	if im.Architecture == "" {
		im.Architecture = "x86_64"
	}
	if im.OwnerID == "" {
		im.OwnerID = c.opts.AccountID
	}
	c.images[im.ID] = &im
}

// SetParameter sets an SSM parameter's value.
func (c *Cloud) SetParameter(name, value string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.params[name] = param{value: value, modified: time.Now()}
}

// SetImageBehaviour changes how instances booted from ami behave from now on.
func (c *Cloud) SetImageBehaviour(ami string, b Behaviour) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.opts.ImageBehaviour == nil {
		c.opts.ImageBehaviour = map[string]Behaviour{}
	}
	c.opts.ImageBehaviour[ami] = b
}

func (c *Cloud) behaviour(ami string) Behaviour {
	if b, ok := c.opts.ImageBehaviour[ami]; ok {
		return b
	}
	return c.opts.DefaultBehaviour
}

func (c *Cloud) loop() {
	defer close(c.done)
	t := time.NewTicker(c.opts.Tick)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			c.mu.Lock()
			c.advanceLocked(time.Now())
			c.ticks++
			c.mu.Unlock()
		}
	}
}

// apiError is an error reply in the protocol of the service that failed.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

func faultStatus(code string) int {
	switch code {
	case "InternalError", "InternalFailure", "InternalServerError":
		return http.StatusInternalServerError
	case "ServiceUnavailable", "Unavailable":
		return http.StatusServiceUnavailable
	}
	return http.StatusBadRequest
}

const (
	ec2Version = "2016-11-15"
	asgVersion = "2011-01-01"
	ec2NS      = "http://ec2.amazonaws.com/doc/2016-11-15/"
	asgNS      = "http://autoscaling.amazonaws.com/doc/2011-01-01/"
)

type service int

const (
	svcEC2 service = iota
	svcASG
	svcSSM
)

func (c *Cloud) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "only POST", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	reqID := newRequestID()
	if target := r.Header.Get("X-Amz-Target"); target != "" {
		action := strings.TrimPrefix(target, "AmazonSSM.")
		c.handle(w, svcSSM, action, reqID, func() (string, *apiError) { return c.ssm(action, body) })
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	action := form.Get("Action")
	var svc service
	switch form.Get("Version") {
	case ec2Version:
		svc = svcEC2
	case asgVersion:
		svc = svcASG
	default:
		http.Error(w, "unknown API version "+form.Get("Version"), http.StatusBadRequest)
		return
	}
	c.handle(w, svc, action, reqID, func() (string, *apiError) {
		if svc == svcEC2 {
			return c.ec2(action, form)
		}
		return c.asg(action, form)
	})
}

// handle counts the call, applies faults and throttling, runs the action
// under the lock and writes the reply in the service's protocol.
func (c *Cloud) handle(w http.ResponseWriter, svc service, action, reqID string, run func() (string, *apiError)) {
	c.mu.Lock()
	c.calls[action]++
	c.advanceLocked(time.Now())
	var aerr *apiError
	var inner string
	if codes := c.faults[action]; len(codes) > 0 {
		c.faults[action] = codes[1:]
		aerr = errorf(faultStatus(codes[0]), codes[0], "injected fault: %s", codes[0])
	} else if !c.takeTokenLocked(svc, action) {
		c.throttled[action]++
		switch svc {
		case svcEC2:
			aerr = errorf(http.StatusServiceUnavailable, "RequestLimitExceeded", "Request limit exceeded.")
		case svcASG:
			aerr = errorf(http.StatusBadRequest, "Throttling", "Rate exceeded")
		default:
			aerr = errorf(http.StatusBadRequest, "ThrottlingException", "Rate exceeded")
		}
	} else {
		inner, aerr = run()
	}
	c.mu.Unlock()

	switch svc {
	case svcSSM:
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Header().Set("X-Amzn-RequestId", reqID)
		if aerr != nil {
			w.WriteHeader(aerr.status)
			fmt.Fprintf(w, `{"__type":%q,"message":%q}`, aerr.code, aerr.message)
			return
		}
		io.WriteString(w, inner)
	case svcEC2:
		w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
		if aerr != nil {
			w.WriteHeader(aerr.status)
			fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors><RequestID>%s</RequestID></Response>`,
				esc(aerr.code), esc(aerr.message), reqID)
			return
		}
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<%sResponse xmlns="%s"><requestId>%s</requestId>%s</%sResponse>`,
			action, ec2NS, reqID, inner, action)
	case svcASG:
		w.Header().Set("Content-Type", "text/xml")
		if aerr != nil {
			w.WriteHeader(aerr.status)
			typ := "Sender"
			if aerr.status >= 500 {
				typ = "Receiver"
			}
			fmt.Fprintf(w, `<ErrorResponse xmlns="%s"><Error><Type>%s</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>`,
				asgNS, typ, esc(aerr.code), esc(aerr.message), reqID)
			return
		}
		fmt.Fprintf(w, `<%sResponse xmlns="%s"><%sResult>%s</%sResult><ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata></%sResponse>`,
			action, asgNS, action, inner, action, reqID, action)
	}
}

type tokenBucket struct {
	Bucket
	tokens float64
	last   time.Time
}

func (c *Cloud) takeTokenLocked(svc service, action string) bool {
	l := c.opts.Throttle
	if l == nil {
		return true
	}
	var b Bucket
	describe := strings.HasPrefix(action, "Describe")
	switch {
	case svc == svcEC2 && describe:
		b = l.EC2Describe
	case svc == svcEC2:
		b = l.EC2Mutate
	case svc == svcASG && describe:
		b = l.ASGDescribe
	case svc == svcASG:
		b = l.ASGMutate
	default:
		b = l.SSM
	}
	if b.Size <= 0 {
		return true
	}
	now := time.Now()
	tb := c.buckets[action]
	if tb == nil {
		tb = &tokenBucket{Bucket: b, tokens: b.Size, last: now}
		c.buckets[action] = tb
	}
	tb.tokens += now.Sub(tb.last).Seconds() * tb.RefillPerSecond
	if tb.tokens > tb.Size {
		tb.tokens = tb.Size
	}
	tb.last = now
	if tb.tokens < 1 {
		return false
	}
	tb.tokens--
	return true
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func randomHex(n int) string {
	b := make([]byte, (n+1)/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

// randomIPStart picks where in 127.88.0.0/16 this Cloud starts handing out
// addresses, so fakes in concurrent test processes rarely meet; a busy
// address is skipped anyway (see allocAddrLocked).
func randomIPStart() uint32 {
	var b [2]byte
	_, _ = rand.Read(b[:])
	return uint32(b[0])<<8 | uint32(b[1])
}

// allocAddrLocked returns the next free 127.88.x.y address (y never 0 or 255)
// and, when listen is set, a listener bound to it on the health port.
func (c *Cloud) allocAddrLocked(listen bool) (string, net.Listener) {
	for range 1 << 16 {
		n := c.nextIP
		c.nextIP = (c.nextIP + 1) & 0xffff
		x, y := byte(n>>8), byte(n)
		if y == 0 || y == 255 {
			continue
		}
		ip := fmt.Sprintf("127.88.%d.%d", x, y)
		if c.addrInUseLocked(ip) {
			continue
		}
		if !listen {
			return ip, nil
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(ip, fmt.Sprint(c.opts.HealthPort)))
		if err != nil {
			continue // taken by someone else on this host
		}
		return ip, ln
	}
	return "", nil
}

func (c *Cloud) addrInUseLocked(ip string) bool {
	for _, in := range c.instances {
		if in.privateIP == ip && in.state != "terminated" {
			return true
		}
	}
	return false
}

// esc escapes text for XML.
func esc(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '"':
			b.WriteString("&quot;")
		case '\'':
			b.WriteString("&apos;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// xb builds XML fragments.
type xb struct{ strings.Builder }

func (b *xb) open(name string)  { b.WriteString("<" + name + ">") }
func (b *xb) close(name string) { b.WriteString("</" + name + ">") }
func (b *xb) leaf(name, v string) {
	b.WriteString("<" + name + ">" + esc(v) + "</" + name + ">")
}
func (b *xb) leafIf(name, v string) {
	if v != "" {
		b.leaf(name, v)
	}
}

func ts(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// form helpers for the Query protocol's flattened lists.

// list reads prefix.1, prefix.2, ... (EC2 style) or prefix.member.1, ...
// (Auto Scaling style, pass "X.member").
func list(f url.Values, prefix string) []string {
	var out []string
	for i := 1; ; i++ {
		k := fmt.Sprintf("%s.%d", prefix, i)
		if _, ok := f[k]; !ok {
			return out
		}
		out = append(out, f.Get(k))
	}
}

type filter struct {
	name   string
	values []string
}

// filters reads EC2 Filter.N.Name / Filter.N.Value.M.
func ec2Filters(f url.Values) []filter {
	var out []filter
	for i := 1; ; i++ {
		name, ok := f[fmt.Sprintf("Filter.%d.Name", i)]
		if !ok {
			return out
		}
		out = append(out, filter{name: name[0], values: list(f, fmt.Sprintf("Filter.%d.Value", i))})
	}
}

// asgFilters reads Auto Scaling Filters.member.N.Name / .Values.member.M.
func asgFilters(f url.Values) []filter {
	var out []filter
	for i := 1; ; i++ {
		name, ok := f[fmt.Sprintf("Filters.member.%d.Name", i)]
		if !ok {
			return out
		}
		out = append(out, filter{name: name[0], values: list(f, fmt.Sprintf("Filters.member.%d.Values.member", i))})
	}
}

// wildcard matches EC2 filter patterns: * any run, ? one character.
func wildcard(pattern, s string) bool {
	if pattern == "" {
		return s == ""
	}
	switch pattern[0] {
	case '*':
		for i := 0; i <= len(s); i++ {
			if wildcard(pattern[1:], s[i:]) {
				return true
			}
		}
		return false
	case '?':
		return s != "" && wildcard(pattern[1:], s[1:])
	}
	return s != "" && s[0] == pattern[0] && wildcard(pattern[1:], s[1:])
}

func anyMatch(patterns []string, s string) bool {
	for _, p := range patterns {
		if wildcard(p, s) {
			return true
		}
	}
	return false
}

// page slices n items by an opaque token and a page size; it returns the
// range and the next token ("" on the last page).
func page(n int, token string, size int) (from, to int, next string, err *apiError) {
	if token != "" {
		if _, e := fmt.Sscanf(token, "tok-%d", &from); e != nil || from < 0 || from > n {
			return 0, 0, "", errorf(400, "InvalidNextToken", "The specified NextToken is not valid.")
		}
	}
	to = n
	if size > 0 && from+size < n {
		to = from + size
		next = fmt.Sprintf("tok-%d", to)
	}
	return from, to, next, nil
}

// pageSize is the smaller of what the caller asked (0: nothing asked) and
// the fake's configured cap (0: none), bounded by the service's max.
func pageSize(asked string, cap, serviceMax int) int {
	n := serviceMax
	var a int
	if asked != "" {
		fmt.Sscan(asked, &a)
	}
	if a > 0 && a < n {
		n = a
	}
	if cap > 0 && cap < n {
		n = cap
	}
	return n
}
