package egress_test

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/sixtyfour-oss/webhooks/pkg/egress"
)

func ExamplePolicy_CheckAddr() {
	var p egress.Policy // zero value: every special-purpose address refused
	for _, s := range []string{"93.184.216.34", "169.254.169.254", "::ffff:10.0.0.1", "64:ff9b::7f00:1"} {
		fmt.Println(p.CheckAddr(netip.MustParseAddr(s)))
	}
	// Output:
	// <nil>
	// destination refused: address 169.254.169.254: link-local 169.254.0.0/16 (cloud metadata service)
	// destination refused: address ::ffff:10.0.0.1: IPv4-mapped form of 10.0.0.1: private 10.0.0.0/8
	// destination refused: address 64:ff9b::7f00:1: NAT64 64:ff9b::/96 form of 127.0.0.1 (loopback 127.0.0.0/8)
}

func ExampleParseAllowList() {
	p, err := egress.ParseAllowList("127.0.0.0/8, ::1, receiver.internal")
	if err != nil {
		fmt.Println(err)
		return
	}
	if p.IsUnsafe() {
		fmt.Println(p) // log this loudly at startup
	}
	fmt.Println(p.CheckHost(context.Background(), "127.0.0.1", nil))
	_, err = egress.ParseAllowList("127.0.0.1, http://receiver.internal")
	fmt.Println(err)
	// Output:
	// UNSAFE egress allow-list: prefixes [127.0.0.0/8 ::1/128] hosts [receiver.internal] (special-purpose addresses in these are reachable)
	// <nil>
	// egress: allow-list entry "http://receiver.internal" is not a CIDR prefix, IP address or host name (write the host name alone: no scheme, port or path)
}
