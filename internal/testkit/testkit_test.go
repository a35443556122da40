package testkit

import (
	"net"
	"strconv"
	"testing"
)

// TestPortsDistinctAndFree: ports are never handed out twice, lie in
// 20000-31999 and can be bound.
func TestPortsDistinctAndFree(t *testing.T) {
	seen := map[int]bool{}
	for _, p := range FreePorts(t, 200) {
		if p < 20000 || p > 31999 {
			t.Fatalf("port %d outside 20000-31999", p)
		}
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		seen[p] = true
	}
	p := FreePort(t)
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	if err != nil {
		t.Fatalf("port %d is not free: %v", p, err)
	}
	l.Close()
}
