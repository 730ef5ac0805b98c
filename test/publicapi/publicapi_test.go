// Package publicapi checks that the public packages stand alone: an
// outside Go module can import every package under pkg/ and fill every
// field of its types, which it could not if a pkg/ package imported (and so
// could expose) one of the module's internal packages.
package publicapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// module is this repository's module path.
const module = "github.com/sixtyfour-oss/webhooks"

// TestPublicPackagesImportOnlyPublicPackages lists the packages under pkg/
// with the go tool and fails for every import (tests excluded) of a
// package under internal/, directly or through another of the module's
// packages.
func TestPublicPackagesImportOnlyPublicPackages(t *testing.T) {
	out, err := exec.Command("go", "list", "-json=ImportPath,Deps", module+"/pkg/...").Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			t.Fatalf("go list: %v\n%s", err, exit.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	n := 0
	for {
		var p struct {
			ImportPath string
			Deps       []string
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		n++
		for _, dep := range p.Deps {
			if strings.HasPrefix(dep, module+"/internal/") {
				t.Errorf("%s depends on %s: public packages may use only public ones", p.ImportPath, dep)
			}
		}
	}
	if n < 10 {
		t.Fatalf("go list found %d packages under pkg/, want every public package (at least 10)", n)
	}
}
