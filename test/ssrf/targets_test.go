package ssrf

import "net"

// The destinations the tests aim at. Every one of them reaches a canary if
// the guard lets it through: the literals and names directly, the redirect
// targets when a redirect is followed.

// literalTargets name a canary by IP literal, in every notation the guard
// must see through. The IPv4-compatible, NAT64 and 6to4 forms reach nothing
// in the namespace; they must still be refused before any dial.
var literalTargets = []string{
	"http://10.99.0.1/", "http://10.99.0.1:8080/hook", "https://10.99.0.1/",
	"http://100.64.0.7/", "http://100.64.0.7:8080/", "https://100.64.0.7/",
	"http://169.254.169.254/latest/meta-data/", "http://169.254.169.254:8080/", "https://169.254.169.254/",
	"http://[fd00:ec2::254]/latest/meta-data/", "http://[fd00:ec2::254]:8080/", "https://[fd00:ec2::254]/",
	"http://127.0.0.2/", "http://127.0.0.2:8080/",
	// The unspecified addresses connect to the local host.
	"http://0.0.0.0:9090/", "http://[::]:9090/", "http://[::1]:9090/",
	// IPv4-mapped IPv6.
	"http://[::ffff:10.99.0.1]/", "http://[::ffff:a63:1]:8080/", "http://[::ffff:100.64.0.7]/",
	"http://[::ffff:169.254.169.254]/latest/meta-data/", "http://[::ffff:127.0.0.2]/",
	// IPv4-compatible, NAT64 (well-known and local-use prefixes), 6to4.
	"http://[::10.99.0.1]/", "http://[64:ff9b::10.99.0.1]/", "http://[64:ff9b::a9fe:a9fe]/",
	"http://[64:ff9b::6440:7]/", "http://[64:ff9b:1::a63:1]/", "http://[2002:a63:1::1]/",
}

// nameTargets name a canary by a host name from the child's /etc/hosts.
var nameTargets = []string{
	"http://canary-private.test/", "http://CANARY-PRIVATE.test/", "http://canary-cgnat.test:8080/",
	"http://canary-metadata.test/latest/meta-data/", "https://canary-metadata.test/",
	"http://canary-v6.test/", "http://canary-v6.test:8080/", "http://canary-loopback.test/",
	// Two refused addresses: both are tried, both must be refused.
	"http://canary-multi.test:8080/",
}

// rebindTargets are names the child's DNS server rebinds: public at their
// first resolution (the publish-time check), 10.99.0.1 afterwards.
var rebindTargets = []string{"http://rebind.test/", "http://port.rebind.test:8080/hook", "https://tls.rebind.test/"}

// altNotationTargets write 10.99.0.1 in the inet_aton notations (decimal,
// hex, octal, short) that some resolvers turn into addresses. Go's resolver
// treats them as names that do not exist; whatever resolves them, the dial
// check must stop them.
var altNotationTargets = []string{"http://167969537/", "http://0x0a630001/", "http://012.0143.0.01/", "http://10.99.1/"}

// redirectTargets are where the allowed receiver redirects to: every
// canary listener by address (https on port 443), the wildcard one through
// 0.0.0.0, and a few by host name and IPv4-mapped form.
func redirectTargets() []string {
	var out []string
	for _, h := range canaryHosts {
		for _, port := range canaryPorts {
			scheme := "http://"
			if port == "443" {
				scheme = "https://"
			}
			out = append(out, scheme+net.JoinHostPort(h.ip, port)+"/")
		}
	}
	return append(out, "http://0.0.0.0:"+wildcardPort+"/",
		"http://canary-private.test/", "http://canary-v6.test:8080/", "http://[::ffff:169.254.169.254]/latest/meta-data/")
}

// redirectCodes are the redirect statuses the receiver answers with.
var redirectCodes = []int{301, 302, 303, 307, 308}
