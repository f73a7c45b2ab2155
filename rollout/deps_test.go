package rollout_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestEngineImportsNoTerraformOrCloudSDK keeps the dependency rule of
// DESIGN.md: the engine and its subpackages are usable without Terraform and
// without any cloud's SDK, and never import a backend.
func TestEngineImportsNoTerraformOrCloudSDK(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", "./...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	forbidden := []string{
		"github.com/hashicorp/terraform",
		"github.com/aws/",
		"google.golang.org/api",
		"cloud.google.com/",
		"github.com/Azure/",
		"github.com/noderoll/terraform-provider-noderoll/providers/",
		"github.com/noderoll/terraform-provider-noderoll/internal/",
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if strings.HasPrefix(dep, f) {
				t.Errorf("rollout/... depends on %s", dep)
			}
		}
	}
}
