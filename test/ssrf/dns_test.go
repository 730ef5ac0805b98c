package ssrf

import (
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// The rebinding DNS server's answers.
var (
	// rebindFirst is the first A answer for a rebinding name: a public
	// address, which is what the publish-time check sees. Nothing routes to
	// it inside the namespace, so even a wrong dial could not leave it.
	rebindFirst = netip.MustParseAddr("93.184.216.34")
	// rebindLater is every later A answer: the private canary.
	rebindLater = netip.MustParseAddr("10.99.0.1")
)

// rebindZone is the zone the server rebinds: rebind.test and every name
// under it, each with its own first answer.
const rebindZone = "rebind.test."

// rebindDNS is a tiny authoritative DNS server on UDP that rebinds: for each
// name in rebindZone it answers the first A query with rebindFirst and every
// later one with rebindLater, all with TTL 0; AAAA queries get no answer and
// every other name does not exist.
type rebindDNS struct {
	pc   net.PacketConn
	done chan struct{}

	mu      sync.Mutex
	answers map[string][]netip.Addr // name -> the A answers given, in order
}

// startDNS serves on addr (e.g. "127.0.0.1:53") until the test ends.
func startDNS(t *testing.T, addr string) *rebindDNS {
	t.Helper()
	pc, err := net.ListenPacket("udp4", addr)
	if err != nil {
		t.Fatalf("DNS server: %v", err)
	}
	s := &rebindDNS{pc: pc, done: make(chan struct{}), answers: make(map[string][]netip.Addr)}
	go s.serve()
	t.Cleanup(func() { pc.Close(); <-s.done })
	return s
}

func (s *rebindDNS) serve() {
	defer close(s.done)
	buf := make([]byte, 1500)
	for {
		n, from, err := s.pc.ReadFrom(buf)
		if err != nil {
			return
		}
		if resp := s.respond(buf[:n]); resp != nil {
			_, _ = s.pc.WriteTo(resp, from)
		}
	}
}

// respond builds the answer to one query, or nil to drop it.
func (s *rebindDNS) respond(query []byte) []byte {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil || h.Response {
		return nil
	}
	q, err := p.Question()
	if err != nil {
		return nil
	}
	name := strings.ToLower(q.Name.String())
	inZone := name == rebindZone || strings.HasSuffix(name, "."+rebindZone)
	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true,
		RecursionDesired: h.RecursionDesired, RecursionAvailable: true}
	if !inZone {
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, rh)
	b.EnableCompression()
	if b.StartQuestions() != nil || b.Question(q) != nil || b.StartAnswers() != nil {
		return nil
	}
	if inZone && q.Type == dnsmessage.TypeA && q.Class == dnsmessage.ClassINET {
		a := s.next(name)
		rr := dnsmessage.ResourceHeader{Name: q.Name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: 0}
		if b.AResource(rr, dnsmessage.AResource{A: a.As4()}) != nil {
			return nil
		}
	}
	msg, err := b.Finish()
	if err != nil {
		return nil
	}
	return msg
}

// next returns the A answer for name's next query and records it.
func (s *rebindDNS) next(name string) netip.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := rebindLater
	if len(s.answers[name]) == 0 {
		a = rebindFirst
	}
	s.answers[name] = append(s.answers[name], a)
	return a
}

// given returns the A answers given for host so far, in order.
func (s *rebindDNS) given(host string) []netip.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]netip.Addr(nil), s.answers[strings.ToLower(strings.TrimSuffix(host, "."))+"."]...)
}
