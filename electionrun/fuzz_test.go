package electionrun

import (
	"errors"
	"net"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/zkserver/zkserver/election"
	"github.com/zkserver/zkserver/wire"
)

// idleListener never accepts; Close ends Accept.
type idleListener struct{ done chan struct{} }

func (l *idleListener) Accept() (net.Conn, error) { <-l.done; return nil, net.ErrClosed }
func (l *idleListener) Close() error {
	select {
	case <-l.done:
	default:
		close(l.done)
	}
	return nil
}
func (l *idleListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }

// FuzzInboundConnection feeds arbitrary bytes to the accepting side of an
// election connection (initial message, tie-break, frames) and every
// delivered body to an election.Machine, as the Runner does. The decoders
// themselves are fuzzed in wire (FuzzInitialMessage, FuzzNotification);
// what is new here is their composition on a stream and the Machine's
// handling of any notification a peer can make it decode.
func FuzzInboundConnection(f *testing.F) {
	init := func(sid int64) []byte {
		return wire.Marshal(&wire.InitialMessage{Version: wire.ElectionProtocolV1, SID: sid, Addr: "127.0.0.1:1"})
	}
	note := func(n wire.Notification) []byte { return wire.AppendElectionMessage(nil, &n) }
	f.Add(append(init(3), note(wire.Notification{State: wire.StateLooking, Leader: 3, Zxid: 5, ElectionEpoch: 1, PeerEpoch: 1, HasPeerEpoch: true, Version: 2, Config: "x"})...))
	f.Add(append(init(3), note(wire.Notification{State: wire.StateLeading, Leader: 3, Zxid: 5, ElectionEpoch: 4, HasPeerEpoch: true})...))
	f.Add(append(init(9), note(wire.Notification{State: wire.StateFollowing, Leader: 2, Zxid: 5, ElectionEpoch: 4})...))
	f.Add(init(1))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 28})
	f.Add(append(init(3), 0, 0x10, 0, 0))
	f.Fuzz(func(t *testing.T, data []byte) {
		ln := &idleListener{done: make(chan struct{})}
		c := newCnxManager(2, ln, "127.0.0.1:1", map[int64]string{1: "127.0.0.1:1", 3: "127.0.0.1:1"},
			100*time.Millisecond, zap.NewNop())
		c.dial = func(string) (net.Conn, error) { return nil, errors.New("no dialing in fuzz") }
		server, client := net.Pipe()
		if !c.track(server) {
			t.Fatal("track")
		}
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.handleConnection(server)
		}()
		client.SetDeadline(time.Now().Add(time.Second))
		client.Write(data) // may fail once the server side closes
		client.Close()
		// Let the receive loop finish with the stream, then stop everything.
		deadline := time.Now().Add(time.Second)
		for time.Now().Before(deadline) {
			c.mu.Lock()
			open := len(c.conns)
			c.mu.Unlock()
			if open == 0 {
				break
			}
			time.Sleep(time.Millisecond)
		}
		c.close()
		m := election.NewMachine(election.Config{MyID: 2, Voters: []int64{1, 2, 3}})
		m.StartLooking(0, 0, 0)
		for {
			select {
			case in := <-c.recv:
				if len(in.body) == 0 || len(in.body) > wire.MaxElectionMessage {
					t.Fatalf("delivered a body of %d bytes", len(in.body))
				}
				var n wire.Notification
				if wire.Unmarshal(in.body, &n) != nil {
					continue
				}
				out := m.Receive(time.Millisecond, in.from, n)
				for _, s := range out.Sends {
					if s.To == 2 {
						t.Fatal("send to self")
					}
				}
				m.Tick(time.Second)
			default:
				return
			}
		}
	})
}
