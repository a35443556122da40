package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Metrics provider classes ZooKeeper 3.8 ships. Only the Prometheus one
// turns on zkserver's /metrics endpoint; the other two mean "no endpoint"
// (ZooKeeper's default provider only feeds mntr, which zkserver always
// serves).
const (
	PrometheusProviderClass = "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider"
	DefaultProviderClass    = "org.apache.zookeeper.metrics.impl.DefaultMetricsProvider"
	NullProviderClass       = "org.apache.zookeeper.metrics.impl.NullMetricsProvider"
)

// MetricsConfig holds the "metricsProvider.*" keys of zoo.cfg (ZooKeeper's
// QuorumPeerConfig hands them, without the prefix, to the provider). The
// zero value is ZooKeeper's default: the DefaultMetricsProvider, so no
// endpoint.
type MetricsConfig struct {
	ClassName string // "metricsProvider.className"
	// HTTPHost is "metricsProvider.httpHost" ("" = 0.0.0.0).
	HTTPHost string
	// HTTPPort is "metricsProvider.httpPort" when HasHTTPPort (else 7000);
	// 0 binds a free port.
	HTTPPort    int
	HasHTTPPort bool
	// NoRuntimeInfo is "metricsProvider.exportJvmInfo" parsed as Java's
	// Boolean.parseBoolean does, negated: ZooKeeper exports the JVM's
	// metrics by default; zkserver exports the Go runtime's and the
	// process's instead.
	NoRuntimeInfo bool
}

// Enabled reports whether the Prometheus endpoint is configured.
func (m MetricsConfig) Enabled() bool { return m.ClassName == PrometheusProviderClass }

// Addr is the endpoint's listen address (host:port).
func (m MetricsConfig) Addr() string {
	host := m.HTTPHost
	if host == "" {
		host = "0.0.0.0"
	}
	port := 7000
	if m.HasHTTPPort {
		port = m.HTTPPort
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// MetricsKeys lists the zoo.cfg keys read into MetricsConfig. The three
// worker settings of ZooKeeper's provider (it hands summaries to a thread
// pool) are accepted and checked but have no effect: zkserver records
// summaries inline.
var MetricsKeys = []string{
	"metricsProvider.className", "metricsProvider.httpHost", "metricsProvider.httpPort",
	"metricsProvider.exportJvmInfo", "metricsProvider.numWorkerThreads",
	"metricsProvider.maxQueueSize", "metricsProvider.workerShutdownTimeoutMs",
}

func init() {
	for k, o := range map[string]option{
		"metricsProvider.className": {false, setMetricsClass},
		"metricsProvider.httpHost": {false, func(c *Config, _, val string) error {
			c.Metrics.HTTPHost = strings.TrimSpace(val)
			return nil
		}},
		"metricsProvider.httpPort": {false, func(c *Config, key, val string) error {
			n, err := parseMetricsInt(key, val)
			if err != nil {
				return err
			}
			if n < 0 || n > 65535 {
				return fmt.Errorf("config: %s (%d) must be between 0 and 65535", key, n)
			}
			c.Metrics.HTTPPort, c.Metrics.HasHTTPPort = int(n), true
			return nil
		}},
		"metricsProvider.exportJvmInfo": {false, func(c *Config, _, val string) error {
			// Boolean.parseBoolean: "true" in any case is true, anything
			// else false
			c.Metrics.NoRuntimeInfo = !strings.EqualFold(val, "true")
			return nil
		}},
		"metricsProvider.numWorkerThreads":        {false, checkMetricsInt},
		"metricsProvider.maxQueueSize":            {false, checkMetricsInt},
		"metricsProvider.workerShutdownTimeoutMs": {false, checkMetricsInt},
	} {
		options[k] = o
	}
}

func setMetricsClass(c *Config, key, val string) error {
	switch val {
	case PrometheusProviderClass, DefaultProviderClass, NullProviderClass:
		c.Metrics.ClassName = val
		return nil
	}
	// ZooKeeper refuses to start when it cannot load the class
	return fmt.Errorf("config: %s: metrics provider class %q was not found (zkserver knows %s, %s and %s)",
		key, val, PrometheusProviderClass, DefaultProviderClass, NullProviderClass)
}

// parseMetricsInt parses as Java's Integer.parseInt / Long.parseLong do
// (the provider reads its settings with them): no spaces, optional sign.
func parseMetricsInt(key, val string) (int64, error) {
	n, err := strconv.ParseInt(val, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("config: %s: %q is not a number", key, val)
	}
	return n, nil
}

func checkMetricsInt(_ *Config, key, val string) error {
	if _, err := strconv.ParseInt(val, 10, 64); err != nil {
		return fmt.Errorf("config: %s: %q is not a number", key, val)
	}
	return nil
}
