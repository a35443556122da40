package server

import (
	"runtime"
	"runtime/debug"
	"time"

	"go.uber.org/zap"
)

// trimLoop gives memory back to the OS once the server goes idle after a
// burst: Go's collector lets the heap grow to twice what is live, and a
// large tree makes that slack hundreds of MiB. When no request arrived for
// a second and the heap holds much more than was live after the last trim,
// a full collection returns the slack.
func (s *Server) trimLoop() {
	defer s.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var lastReceived int64 = -1
	var live uint64
	for {
		select {
		case <-s.closing:
			return
		case <-t.C:
		}
		received := s.stats.received.Load()
		idle := received == lastReceived
		lastReceived = received
		if !idle {
			continue
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		held := ms.HeapInuse + ms.HeapIdle - ms.HeapReleased
		if held < live+live/4+32<<20 {
			continue
		}
		start := time.Now()
		debug.FreeOSMemory()
		runtime.ReadMemStats(&ms)
		live = ms.HeapAlloc
		s.log.Debug("returned idle memory", zap.Uint64("held_before", held), zap.Uint64("live", live), zap.Duration("took", time.Since(start)))
	}
}
