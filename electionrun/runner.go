// Package electionrun is the I/O shell of package election: Runner drives
// an election.Machine with the real clock on the election port, and the
// connection manager (ZooKeeper's QuorumCnxManager, cnx.go) keeps one TCP
// connection per peer.
package electionrun

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/zkserver/zkserver/election"
	"github.com/zkserver/zkserver/wire"
)

// PeerAddr is one member of the ensemble as the election needs it.
type PeerAddr struct {
	ID           int64
	ElectionAddr string
	Voter        bool
}

// Options configure a Runner. Peers lists every member, this server
// included (its entry's Voter flag is ignored: Observer decides).
type Options struct {
	MyID         int64
	ListenAddr   string // election address to bind; it is also what our initial messages advertise
	Peers        []PeerAddr
	ConfigString string
	Observer     bool
	CnxTimeout   time.Duration // connect timeout and initial-message read timeout; default 5s
	Logger       *zap.Logger
	FinalizeWait time.Duration
	// MaxNotificationInterval caps the notification backoff; default 60s.
	MaxNotificationInterval time.Duration
	// Listen binds the election port (quorum TLS, see tlsconf); nil is
	// net.Listen. A listener with a DialPeer method also makes the
	// outgoing connections.
	Listen func(network, addr string) (net.Listener, error)
}

// ErrClosed is returned by LookForLeader after Close.
var ErrClosed = errors.New("election: runner closed")

// Runner runs an election.Machine with the real clock on the election port. It
// answers LOOKING peers at all times, from Start until Close.
type Runner struct {
	opts   Options
	log    *zap.Logger
	cnx    *cnxManager
	m      *election.Machine
	origin time.Time

	reqs      chan func()
	done      chan struct{}
	closeOnce sync.Once
	exit      chan struct{}

	// owned by the loop goroutine
	waiting   chan election.Decision
	startedAt time.Time
	received  int
}

// Start binds the election address and starts serving.
func Start(o Options) (*Runner, error) {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.CnxTimeout <= 0 {
		o.CnxTimeout = DefaultCnxTimeout
	}
	listen := net.Listen
	if o.Listen != nil {
		listen = o.Listen
	}
	ln, err := listen("tcp", o.ListenAddr)
	if err != nil {
		return nil, fmt.Errorf("election: listen on %s: %w", o.ListenAddr, err)
	}
	advertised := o.ListenAddr
	if host, port, err := net.SplitHostPort(o.ListenAddr); err == nil && (port == "0" || port == "") {
		_, realPort, _ := net.SplitHostPort(ln.Addr().String())
		advertised = net.JoinHostPort(host, realPort)
	}
	cfg := election.Config{MyID: o.MyID, Observer: o.Observer, ConfigString: o.ConfigString,
		FinalizeWait: o.FinalizeWait, MaxNotificationInterval: o.MaxNotificationInterval}
	addrs := make(map[int64]string)
	for _, p := range o.Peers {
		if p.ID != o.MyID {
			addrs[p.ID] = p.ElectionAddr
			if p.Voter {
				cfg.Voters = append(cfg.Voters, p.ID)
			}
		} else if !o.Observer {
			cfg.Voters = append(cfg.Voters, p.ID)
		}
	}
	log := o.Logger.With(zap.Int64("myid", o.MyID))
	r := &Runner{
		opts:   o,
		log:    log,
		m:      election.NewMachine(cfg),
		origin: time.Now(),
		reqs:   make(chan func()),
		done:   make(chan struct{}),
		exit:   make(chan struct{}),
	}
	r.cnx = newCnxManager(o.MyID, ln, advertised, addrs, o.CnxTimeout, log)
	go r.loop()
	return r, nil
}

// Addr is the address the election port is bound to.
func (r *Runner) Addr() string { return r.cnx.ln.Addr().String() }

func (r *Runner) now() time.Duration { return time.Since(r.origin) }

func (r *Runner) loop() {
	defer close(r.exit)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		var tc <-chan time.Time
		if d, ok := r.m.NextDeadline(); ok {
			wait := d - r.now()
			if wait < 0 {
				wait = 0
			}
			timer.Reset(wait)
			tc = timer.C
		}
		select {
		case <-r.done:
			return
		case f := <-r.reqs:
			f()
		case in := <-r.cnx.recv:
			var n wire.Notification
			if err := wire.Unmarshal(in.body, &n); err != nil {
				// ZooKeeper skips a malformed notification and keeps the
				// connection.
				r.log.Warn("election: skipping malformed notification", zap.Int64("from", in.from),
					zap.Int("bytes", len(in.body)), zap.Error(err))
				break
			}
			if r.m.Electing() {
				r.received++
				r.log.Debug("election: notification", zap.Int64("from", in.from), zap.Int32("state", n.State),
					zap.Int64("leader", n.Leader), zap.String("zxid", hex(n.Zxid)),
					zap.String("round", hex(n.ElectionEpoch)), zap.String("peerEpoch", hex(n.PeerEpoch)),
					zap.Int32("version", n.Version))
			}
			r.apply(r.m.Receive(r.now(), in.from, n))
		case <-tc:
			r.apply(r.m.Tick(r.now()))
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

func hex(v int64) string { return fmt.Sprintf("0x%x", v) }

func (r *Runner) apply(out election.Output) {
	if out.Timeout {
		if !r.cnx.haveDelivered() {
			r.log.Info("election: notification timeout, reconnecting", zap.Duration("next", r.m.NotificationInterval()))
			r.cnx.connectAll()
			out.Sends = nil
		} else {
			r.log.Info("election: notification timeout, re-sending", zap.Duration("next", r.m.NotificationInterval()))
		}
	}
	for _, s := range out.Sends {
		r.cnx.toSend(s.To, wire.AppendElectionMessage(nil, &s.Msg))
	}
	if d := out.Decided; d != nil {
		fields := []zap.Field{
			zap.String("state", election.StateName(d.State)), zap.Int64("leader", d.Vote.Leader),
			zap.String("zxid", hex(d.Vote.Zxid)), zap.String("round", hex(d.Vote.ElectionEpoch)),
			zap.String("peerEpoch", hex(d.Vote.PeerEpoch)), zap.Int("notifications", r.received),
		}
		if !r.startedAt.IsZero() {
			fields = append(fields, zap.Duration("took", time.Since(r.startedAt)))
		}
		for _, v := range r.m.Tally() {
			key := fmt.Sprintf("vote.%d", v.From)
			if v.OutOfElection {
				key = fmt.Sprintf("outOfElection.%d", v.From)
			}
			fields = append(fields, zap.String(key, fmt.Sprintf("%s leader=%d zxid=%s round=%s peerEpoch=%s",
				election.StateName(v.State), v.Vote.Leader, hex(v.Vote.Zxid), hex(v.Vote.ElectionEpoch), hex(v.Vote.PeerEpoch))))
		}
		r.log.Info("election: decided", fields...)
		if r.waiting != nil {
			r.waiting <- *d // buffered, capacity 1
			r.waiting = nil
		}
	}
}

// do runs f on the loop goroutine.
func (r *Runner) do(f func()) error {
	done := make(chan struct{})
	select {
	case r.reqs <- func() { f(); close(done) }:
		<-done
		return nil
	case <-r.exit:
		return ErrClosed
	}
}

// LookForLeader runs one election and blocks until it decides, ctx ends or
// the Runner is closed. lastZxid is the last logged zxid, currentEpoch the
// currentEpoch file's value. If ctx ends first the election is abandoned
// (the server stays LOOKING).
func (r *Runner) LookForLeader(ctx context.Context, lastZxid, currentEpoch int64) (election.Decision, error) {
	res := make(chan election.Decision, 1)
	err := r.do(func() {
		r.waiting = res
		r.startedAt = time.Now()
		r.received = 0
		out := r.m.StartLooking(r.now(), lastZxid, currentEpoch)
		p := r.m.Proposal()
		r.log.Info("election: new election", zap.String("round", hex(p.ElectionEpoch)),
			zap.Int64("proposedLeader", p.Leader), zap.String("proposedZxid", hex(p.Zxid)),
			zap.String("proposedEpoch", hex(p.PeerEpoch)))
		r.apply(out)
	})
	if err != nil {
		return election.Decision{}, err
	}
	select {
	case d := <-res:
		return d, nil
	case <-ctx.Done():
		r.do(func() {
			if r.waiting == res {
				r.waiting = nil
				r.m.Abandon()
			}
		})
		select {
		case d := <-res:
			return d, nil
		default:
		}
		return election.Decision{}, ctx.Err()
	case <-r.exit:
		return election.Decision{}, ErrClosed
	}
}

// UpdateVote refreshes the vote we answer LOOKING servers with after a
// successful sync (see election.Machine.UpdateVote).
func (r *Runner) UpdateVote(zxid, peerEpoch int64) {
	r.do(func() { r.m.UpdateVote(zxid, peerEpoch) })
}

// State is the current server state (wire.State*).
func (r *Runner) State() int32 {
	var s int32 = -1
	r.do(func() { s = r.m.State() })
	return s
}

// CurrentVote is the vote answered to LOOKING servers.
func (r *Runner) CurrentVote() election.Vote {
	var v election.Vote
	r.do(func() { v = r.m.CurrentVote() })
	return v
}

// Close stops serving and closes every connection.
func (r *Runner) Close() {
	r.closeOnce.Do(func() { close(r.done) })
	<-r.exit
	r.cnx.close()
}
