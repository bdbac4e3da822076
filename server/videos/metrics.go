package videos

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the service's Prometheus metrics.
type metrics struct {
	ingests *prometheus.CounterVec
	ingest  prometheus.Histogram
	search  prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer, s *Service) (*metrics, error) {
	m := &metrics{
		ingests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "swarmtube_video_ingests_total",
			Help: "Uploads processed, by result: ok, refused (bad content or name) or error.",
		}, []string{"result"}),
		ingest: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "swarmtube_video_ingest_seconds",
			Help:    "Time to check, rewrite, hash and store an accepted upload.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 14),
		}),
		search: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "swarmtube_video_search_seconds",
			Help:    "Time to answer a video search from the index.",
			Buckets: []float64{.0002, .0005, .001, .002, .005, .01, .02, .05, .1, .5},
		}),
	}
	known := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "swarmtube_videos_known",
		Help: "Distinct info hashes of local and friends' videos (what the tracker tracks).",
	}, func() float64 {
		s.setsMu.RLock()
		defer s.setsMu.RUnlock()
		return float64(len(s.known))
	})
	for _, c := range []prometheus.Collector{m.ingests, m.ingest, m.search, known} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("videos: register metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) observeIngest(begin time.Time, err error) {
	switch {
	case err == nil:
		m.ingests.WithLabelValues("ok").Inc()
		m.ingest.Observe(time.Since(begin).Seconds())
	case refused(err):
		m.ingests.WithLabelValues("refused").Inc()
	default:
		m.ingests.WithLabelValues("error").Inc()
	}
}
