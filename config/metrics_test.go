package config

import (
	"strings"
	"testing"
)

func TestMetricsKeys(t *testing.T) {
	base := "dataDir=/tmp/zk\nclientPort=2181\n"
	c, err := Parse(strings.NewReader(base))
	if err != nil {
		t.Fatal(err)
	}
	if c.Metrics.Enabled() || c.Metrics.Addr() != "0.0.0.0:7000" || c.Metrics.NoRuntimeInfo {
		t.Errorf("defaults: %+v addr %s", c.Metrics, c.Metrics.Addr())
	}

	c, err = Parse(strings.NewReader(base +
		"metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider\n" +
		"metricsProvider.httpHost=127.0.0.1\nmetricsProvider.httpPort=7001\n" +
		"metricsProvider.exportJvmInfo=TRUE\nmetricsProvider.numWorkerThreads=0\n" +
		"metricsProvider.maxQueueSize=10\nmetricsProvider.workerShutdownTimeoutMs=5\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Metrics.Enabled() || c.Metrics.Addr() != "127.0.0.1:7001" || c.Metrics.NoRuntimeInfo {
		t.Errorf("set: %+v addr %s", c.Metrics, c.Metrics.Addr())
	}
	for _, k := range MetricsKeys {
		if _, unknown := c.Unknown[k]; unknown {
			t.Errorf("%s reported unknown", k)
		}
	}
	c, err = Parse(strings.NewReader(base + "metricsProvider.httpHost=::1\nmetricsProvider.httpPort=0\nmetricsProvider.exportJvmInfo=yes\n"))
	if err != nil {
		t.Fatal(err)
	}
	// Boolean.parseBoolean("yes") is false; port 0 is kept (a free port)
	if c.Metrics.Addr() != "[::1]:0" || !c.Metrics.NoRuntimeInfo || c.Metrics.Enabled() {
		t.Errorf("%+v addr %s", c.Metrics, c.Metrics.Addr())
	}
	for _, cls := range []string{DefaultProviderClass, NullProviderClass} {
		c, err := Parse(strings.NewReader(base + "metricsProvider.className=" + cls + "\n"))
		if err != nil || c.Metrics.Enabled() {
			t.Errorf("%s: %v enabled=%v", cls, err, err == nil && c.Metrics.Enabled())
		}
	}
	for _, bad := range []string{
		"metricsProvider.className=com.example.Nope",
		"metricsProvider.httpPort=70000",
		"metricsProvider.httpPort=-1",
		"metricsProvider.httpPort=seven",
		"metricsProvider.maxQueueSize=lots",
	} {
		if _, err := Parse(strings.NewReader(base + bad + "\n")); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
