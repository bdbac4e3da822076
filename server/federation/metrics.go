package federation

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/swarmtube/swarmtube/server/federation/outbox"
	bolt "go.etcd.io/bbolt"
)

// metrics are what a pod host watches about federation.
type metrics struct {
	enqueued      prometheus.Counter
	delivered     prometheus.Counter
	applied       prometheus.Counter
	failures      prometheus.Counter
	ejections     prometheus.Counter
	inbound       *prometheus.CounterVec
	introductions *prometheus.CounterVec
	deliveryTime  prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer, s *Service) (*metrics, error) {
	m := &metrics{
		enqueued: s.out.Enqueued(), // counted by the outbox, registered here
		delivered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "swarmtube_federation_events_delivered_total", Help: "Events friends confirmed.",
		}),
		applied: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "swarmtube_federation_events_applied_total", Help: "Events from friends applied here.",
		}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "swarmtube_federation_delivery_failures_total", Help: "Failed deliveries to friends.",
		}),
		ejections: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "swarmtube_federation_ejections_total", Help: "Friends ejected for a low score.",
		}),
		inbound: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "swarmtube_federation_requests_total", Help: "Pod-to-pod requests received, by route and result code (ok, rate_limited, bad_signature, ...).",
		}, []string{"route", "result"}),
		introductions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "swarmtube_federation_introductions_total", Help: "Introductions this pod made, by result (accepted, requested, failed).",
		}, []string{"result"}),
		deliveryTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "swarmtube_federation_delivery_seconds", Help: "Time of one delivery request to a friend.",
			Buckets: prometheus.DefBuckets,
		}),
	}
	pending := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "swarmtube_federation_outbox_events", Help: "Events queued for friends, not yet confirmed.",
	}, func() float64 {
		n := 0
		_ = s.st.View(func(tx *bolt.Tx) error { n = outbox.TotalTx(tx); return nil })
		return float64(n)
	})
	for _, c := range []prometheus.Collector{m.enqueued, m.delivered, m.applied, m.failures, m.ejections, m.inbound, m.introductions, m.deliveryTime, pending} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("federation: metrics: %w", err)
		}
	}
	return m, nil
}
