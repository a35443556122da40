package snapshot

import (
	"sync/atomic"

	"go.uber.org/zap/zapcore"
)

// countingCore counts the entries logged at info or above.
type countingCore struct {
	zapcore.LevelEnabler
	n *atomic.Int64
}

func (c countingCore) With([]zapcore.Field) zapcore.Core { return c }
func (c countingCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}
func (c countingCore) Write(zapcore.Entry, []zapcore.Field) error { c.n.Add(1); return nil }
func (c countingCore) Sync() error                                { return nil }

func newObserver() (zapcore.Core, func() int64) {
	n := &atomic.Int64{}
	return countingCore{LevelEnabler: zapcore.InfoLevel, n: n}, n.Load
}
