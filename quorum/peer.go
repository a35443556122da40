// Package quorum runs one member of a ZAB ensemble: it recovers the data
// directories, takes part in fast leader election and runs the role the
// election decides (zabrun.RunLeader or zabrun.RunLearner) with a
// client-facing server.Server, then goes back to looking when the role
// ends. It is the glue ZooKeeper calls QuorumPeer; the protocol lives in
// the cores election/ and zab/, run on sockets and disks by their shells
// electionrun/ and zabrun/.
package quorum

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/zkserver/zkserver/config"
	"github.com/zkserver/zkserver/datatree"
	"github.com/zkserver/zkserver/election"
	"github.com/zkserver/zkserver/electionrun"
	"github.com/zkserver/zkserver/metrics"
	"github.com/zkserver/zkserver/server"
	"github.com/zkserver/zkserver/tlsconf"
	"github.com/zkserver/zkserver/wire"
	"github.com/zkserver/zkserver/zab"
	"github.com/zkserver/zkserver/zabrun"
)

// Peer is one ensemble member.
type Peer struct {
	cfg *config.Config
	log *zap.Logger
	env *zabrun.Env
	el  *electionrun.Runner
	adm adminState // what the AdminServer reports (admin.go)
}

// Open recovers the data directories and binds the election port.
func Open(cfg *config.Config, log *zap.Logger) (*Peer, error) {
	self, ok := cfg.Self()
	if !ok {
		return nil, fmt.Errorf("myid %d is not among the server lines", cfg.MyID)
	}
	if cfg.ReconfigEnabled {
		log.Warn("reconfigEnabled=true: dynamic reconfig is not implemented; reconfig answers RECONFIGDISABLED")
	}
	if cfg.LocalSessionsEnabled {
		log.Warn("localSessionsEnabled=true: local sessions are not implemented; every session is global")
	}
	if cfg.ObserverMasterPort > 0 {
		log.Warn("observerMasterPort is set: the ObserverMaster feature is not implemented; observers follow the leader")
	}
	tree, err := server.Recover(cfg, log)
	if err != nil {
		return nil, err
	}
	snapDir, logDir := server.Dirs(cfg)
	accepted, current, err := zabrun.LoadEpochs(snapDir, tree.LastZxid)
	if err != nil {
		return nil, err
	}
	env := &zabrun.Env{
		Cfg: cfg, Log: log, SnapDir: snapDir, LogDir: logDir, Tree: tree,
		Committed: zab.NewCommittedLog(500), Accepted: accepted, Current: current,
		Rule: &server.SnapshotRule{SnapCount: cfg.SnapCount, SizeLimit: cfg.SnapSizeLimitInKb * 1024,
			Rand: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(cfg.MyID)))},
	}
	env.Rule.Next(0) // draws the first randomized threshold
	if err := env.FillCommitted(); err != nil {
		return nil, err
	}
	p := &Peer{cfg: cfg, log: log, env: env}
	p.adm.init()
	env.NewServer = p.newServer
	var peers []electionrun.PeerAddr
	for _, q := range cfg.Servers {
		peers = append(peers, electionrun.PeerAddr{ID: q.ID, ElectionAddr: q.ElectionAddr(), Voter: q.Type == config.Participant})
	}
	listen := self.ElectionAddr()
	if cfg.QuorumListenOnAllIPs {
		listen = net.JoinHostPort("", strconv.Itoa(self.ElectionPort))
	}
	el, err := electionrun.Start(electionrun.Options{
		MyID: cfg.MyID, ListenAddr: listen, Peers: peers, ConfigString: cfg.QuorumConfigString(),
		Observer: self.Type == config.Observer, CnxTimeout: time.Duration(cfg.CnxTimeoutMs) * time.Millisecond,
		Logger: log,
		Listen: func(network, addr string) (net.Listener, error) {
			return tlsconf.QuorumListen(cfg, log, network, addr, "election")
		},
	})
	if err != nil {
		return nil, err
	}
	p.el = el
	env.OnServing = func(epoch int64) { el.UpdateVote(env.Tree.LastZxid, epoch) }
	return p, nil
}

func (p *Peer) newServer(tree *datatree.Tree, commit server.CommitPath, next int64, role server.Role) *server.Server {
	s := server.New(server.Options{Config: p.cfg, Logger: p.log, Commit: commit, Tree: tree,
		ServerID: p.cfg.MyID, NextZxid: next, Role: role, SnapDir: p.env.SnapDir, LogDir: p.env.LogDir})
	p.adm.serverBuilt(s)
	return s
}

// Run elects and runs roles until ctx is done.
func (p *Peer) Run(ctx context.Context) error {
	defer p.el.Close()
	defer func() {
		// pebble mode: what was applied is made durable, the store closed
		if err := p.env.Close(); err != nil {
			p.log.Error("closing the tree's store (the txn log has everything)", zap.Error(err))
		}
	}()
	for ctx.Err() == nil {
		env := p.env
		start := time.Now()
		metrics.Default().Looking()
		p.adm.looking(env.Tree.LastZxid)
		dec, err := p.el.LookForLeader(ctx, env.Tree.LastZxid, env.Current)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		p.log.Info("election decided", zap.String("state", election.StateName(dec.State)), zap.Int64("leader", dec.Vote.Leader),
			zap.String("zxid", fmt.Sprintf("0x%x", dec.Vote.Zxid)), zap.Int64("peer_epoch", dec.Vote.PeerEpoch),
			zap.Duration("took", time.Since(start)))
		metrics.Default().Elected(time.Since(start))
		roleStart := time.Now()
		p.adm.elected(dec.Vote.Leader)
		switch dec.State {
		case wire.StateLeading:
			err = zabrun.RunLeader(ctx, env)
		case wire.StateFollowing, wire.StateObserving:
			q, ok := p.server(dec.Vote.Leader)
			if !ok {
				err = fmt.Errorf("elected leader %d is not in the configuration", dec.Vote.Leader)
				break
			}
			err = zabrun.RunLearner(ctx, env, q.ID, q.QuorumAddr(), dec.State == wire.StateObserving)
		}
		if err != nil && !errors.Is(err, zabrun.ErrRoleEnded) && ctx.Err() == nil {
			p.log.Error("role failed", zap.Error(err))
		} else if err != nil && ctx.Err() == nil {
			p.log.Info("role ended", zap.Error(err))
		}
		// what was logged but not committed counts for the next election
		if cerr := env.CatchUp(); cerr != nil {
			return cerr
		}
		if ctx.Err() == nil && time.Since(roleStart) < time.Second {
			// a role that failed at once (no leader to connect to yet, a
			// quorum that did not come) is not retried in a tight loop; one
			// that served goes straight back to election (failover time)
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

func (p *Peer) server(id int64) (config.QuorumServer, bool) {
	for _, q := range p.cfg.Servers {
		if q.ID == id {
			return q, true
		}
	}
	return config.QuorumServer{}, false
}
