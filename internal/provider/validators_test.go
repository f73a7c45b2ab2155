package provider

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

func validate(t *testing.T, v validator.String, value types.String) string {
	t.Helper()
	resp := &validator.StringResponse{}
	v.ValidateString(context.Background(), validator.StringRequest{
		Path:        path.Root("rollout").AtName("x"),
		ConfigValue: value,
	}, resp)
	if !resp.Diagnostics.HasError() {
		return ""
	}
	return resp.Diagnostics.Errors()[0].Detail()
}

func selfSignedPEM(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"}, NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<31, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func TestStringValidators(t *testing.T) {
	cert := selfSignedPEM(t)
	cases := []struct {
		name  string
		v     validator.String
		value string
		want  string // substring of the error; "" means valid
	}{
		{"duration ok", duration(false), "300ms", ""},
		{"duration zero ok", duration(false), "0s", ""},
		{"duration words", duration(false), "5 minutes", `rollout.x = "5 minutes" is invalid: not a duration`},
		{"duration negative", duration(false), "-1s", "negative"},
		{"positive duration zero", duration(true), "0s", "zero: want a positive duration"},
		{"positive duration ok", duration(true), "10m", ""},
		{"count", intOrPercent(), "2", ""},
		{"percent", intOrPercent(), "25%", ""},
		{"percent over 100", intOrPercent(), "150%", `rollout.x = "150%" is invalid: is over 100%`},
		{"not a number", intOrPercent(), "two", "not a whole number or percentage"},
		{"negative count", intOrPercent(), "-1", "is negative"},
		{"blank", nonBlank(), "  ", "want a non-blank value"},
		{"url ok", httpURL(), "https://hooks.example.com/drain", ""},
		{"url no scheme", httpURL(), "hooks.example.com/drain", "want an absolute http:// or https:// URL"},
		{"url ftp", httpURL(), "ftp://x/y", "want an absolute http:// or https:// URL"},
		{"path ok", urlPath(), "/healthz?x=1", ""},
		{"path relative", urlPath(), "healthz", "want an absolute URL path"},
		{"path fragment", urlPath(), "/a#b", "want an absolute URL path"},
		{"pem ok", pemCertificates(), cert, ""},
		{"pem garbage", pemCertificates(), "not a cert", "want one or more PEM-encoded certificates"},
		{"pem key", pemCertificates(), "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", `type "PRIVATE KEY"`},
		{"pem trailing junk", pemCertificates(), cert + "junk", "want one or more PEM-encoded certificates"},
		{"placeholder ok", placeholders(), "{{address}}:{{port}}", ""},
		{"placeholder typo", placeholders(), "{{adress}}", "unknown placeholder {{adress}}"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := validate(t, c.v, types.StringValue(c.value))
			if c.want == "" && got != "" {
				t.Fatalf("%q: unexpected error %q", c.value, got)
			}
			if c.want != "" && !strings.Contains(got, c.want) {
				t.Fatalf("%q: error %q, want it to contain %q", c.value, got, c.want)
			}
		})
	}
}

func TestStringValidatorsSkipUnknownAndNull(t *testing.T) {
	for _, v := range []types.String{types.StringNull(), types.StringUnknown()} {
		if got := validate(t, duration(true), v); got != "" {
			t.Fatalf("%v: unexpected error %q", v, got)
		}
	}
}
