package mirrors

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are what a pod host watches about mirrors.
type metrics struct {
	fetched       prometheus.Counter
	failures      prometheus.Counter
	checkFailures prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, m *Manager) (*metrics, error) {
	mt := &metrics{
		fetched: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "swarmtube_mirrors_fetched_bytes_total", Help: "Bytes of friends' videos fetched and held as mirrors.",
		}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "swarmtube_mirrors_fetch_failures_total", Help: "Mirror fetches that failed (retried at the next pass).",
		}),
	}
	mt.checkFailures = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "swarmtube_mirrors_check_failures_total", Help: "Friends' mirrors of this pod's videos that failed a range check (unreachable or bad bytes).",
	})
	count := func(state string) func() float64 {
		return func() float64 {
			recs, err := m.records()
			if err != nil {
				return 0
			}
			n := 0
			for _, r := range recs {
				if r.State == state {
					n++
				}
			}
			return float64(n)
		}
	}
	used := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "swarmtube_mirrors_bytes", Help: "Bytes of mirrored files, held and being fetched (the budget is --mirror-max-gb).",
	}, func() float64 {
		st, err := m.Status()
		if err != nil {
			return 0
		}
		return float64(st.UsedBytes)
	})
	held := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "swarmtube_mirrors_held", Help: "Mirrors held (fetched and seeded)."}, count(StateHeld))
	wanted := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "swarmtube_mirrors_wanted", Help: "Mirrors being fetched."}, count(StateWanted))
	for _, c := range []prometheus.Collector{mt.fetched, mt.failures, mt.checkFailures, used, held, wanted} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("mirrors: register metrics: %w", err)
		}
	}
	return mt, nil
}
