package hostname_test

import (
	"fmt"

	"github.com/sixtyfour-oss/webhooks/pkg/hostname"
)

// Valid accepts the DNS names a destination URL or an allow-list entry may
// carry, and refuses what no resolver should be asked about.
func ExampleValid() {
	for _, name := range []string{"hooks.example.com", "a_b.internal", "-bad.example.com", "double..dot"} {
		fmt.Printf("%-18s %v\n", name, hostname.Valid(name))
	}
	fmt.Println(hostname.LastLabel("hooks.example.com"))
	// Output:
	// hooks.example.com  true
	// a_b.internal       true
	// -bad.example.com   false
	// double..dot        false
	// com
}
