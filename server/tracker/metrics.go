package tracker

import (
	"fmt"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Rejection reasons, the values of the "reason" label of
// swarmtube_tracker_rejections_total.
const (
	rejectMalformed  = "malformed"   // message or query that does not parse
	rejectNotTracked = "not_tracked" // Allow refused the info hash
	rejectTooBig     = "too_big"     // message above MaxMessageBytes
	rejectOffers     = "offers"      // more than MaxOffers offers
	rejectRate       = "rate"        // above AnnouncesPerSecond
	rejectConnsPerIP = "conns_per_ip"
	rejectSwarms     = "swarms_per_conn"
	rejectSlow       = "slow_reader" // write queue above MaxQueuedBytes
	rejectEvent      = "event"
)

var rejectReasons = []string{rejectMalformed, rejectNotTracked, rejectTooBig, rejectOffers,
	rejectRate, rejectConnsPerIP, rejectSwarms, rejectSlow, rejectEvent}

type metrics struct {
	conns      atomic.Int64 // open WebSocket connections
	swarms     atomic.Int64
	wsPeers    atomic.Int64
	httpPeers  atomic.Int64
	wsAnn      prometheus.Counter
	httpAnn    prometheus.Counter
	scrapes    prometheus.Counter
	offers     prometheus.Counter
	answers    prometheus.Counter
	lostAnswer prometheus.Counter
	rejections map[string]prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		wsAnn: prometheus.NewCounter(prometheus.CounterOpts{Name: "swarmtube_tracker_announces_total",
			Help: "Announces handled (including answers).", ConstLabels: prometheus.Labels{"transport": "ws"}}),
		httpAnn: prometheus.NewCounter(prometheus.CounterOpts{Name: "swarmtube_tracker_announces_total",
			Help: "Announces handled (including answers).", ConstLabels: prometheus.Labels{"transport": "http"}}),
		scrapes: prometheus.NewCounter(prometheus.CounterOpts{Name: "swarmtube_tracker_scrapes_total",
			Help: "Scrapes handled (WebSocket and HTTP)."}),
		offers: prometheus.NewCounter(prometheus.CounterOpts{Name: "swarmtube_tracker_offers_relayed_total",
			Help: "WebRTC offers relayed to another peer."}),
		answers: prometheus.NewCounter(prometheus.CounterOpts{Name: "swarmtube_tracker_answers_relayed_total",
			Help: "WebRTC answers relayed to the offering peer."}),
		lostAnswer: prometheus.NewCounter(prometheus.CounterOpts{Name: "swarmtube_tracker_answers_dropped_total",
			Help: "Answers whose to_peer_id was not in the swarm."}),
		rejections: make(map[string]prometheus.Counter, len(rejectReasons)),
	}
	rej := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "swarmtube_tracker_rejections_total",
		Help: "Requests refused or connections closed, by reason."}, []string{"reason"})
	for _, r := range rejectReasons {
		m.rejections[r] = rej.WithLabelValues(r)
	}
	if reg == nil {
		return m, nil
	}
	gauge := func(name, help string, v *atomic.Int64, labels prometheus.Labels) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: labels},
			func() float64 { return float64(v.Load()) })
	}
	for _, c := range []prometheus.Collector{
		m.wsAnn, m.httpAnn, m.scrapes, m.offers, m.answers, m.lostAnswer, rej,
		gauge("swarmtube_tracker_connections", "Open WebSocket tracker connections.", &m.conns, nil),
		gauge("swarmtube_tracker_swarms", "Swarms (info hashes) with at least one peer.", &m.swarms, nil),
		gauge("swarmtube_tracker_peers", "Peers in swarms.", &m.wsPeers, prometheus.Labels{"transport": "ws"}),
		gauge("swarmtube_tracker_peers", "Peers in swarms.", &m.httpPeers, prometheus.Labels{"transport": "http"}),
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("tracker: register metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) reject(reason string) { m.rejections[reason].Inc() }
