package seeder

import (
	"encoding/hex"

	"github.com/prometheus/client_golang/prometheus"
)

// collector reads the seeder's counters at scrape time, so nothing is
// double-booked and removed torrents simply stop being reported.
type collector struct{ s *Seeder }

var (
	descUploaded = prometheus.NewDesc("swarmtube_seeder_uploaded_bytes_total",
		"Payload bytes the seeder sent to peers (all torrents, TCP, uTP and WebRTC).", nil, nil)
	descTorrentUploaded = prometheus.NewDesc("swarmtube_seeder_torrent_uploaded_bytes_total",
		"Payload bytes the seeder sent to peers for one torrent since it was added.", []string{"info_hash"}, nil)
	descDiskRead = prometheus.NewDesc("swarmtube_seeder_disk_read_bytes_total",
		"Bytes the seeder read from video files (serving peers and verifying pieces).", nil, nil)
	descTorrents = prometheus.NewDesc("swarmtube_seeder_torrents",
		"Torrents loaded in the BitTorrent client and being seeded.", nil, nil)
	descRegistered = prometheus.NewDesc("swarmtube_seeder_registered_torrents",
		"Torrents registered for seeding on demand, loaded or not.", nil, nil)
	descLoads = prometheus.NewDesc("swarmtube_seeder_loads_total",
		"Registered torrents loaded into the BitTorrent client (an announce, a web seed read or an upload woke them).", nil, nil)
	descUnloads = prometheus.NewDesc("swarmtube_seeder_unloads_total",
		"Registered torrents unloaded (idle, or past --seed-max-active).", nil, nil)
	descPeers = prometheus.NewDesc("swarmtube_seeder_peers",
		"Peers connected to the seeder, over all torrents.", nil, nil)
)

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descUploaded, descTorrentUploaded, descDiskRead, descTorrents, descPeers, descRegistered, descLoads, descUnloads} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(descUploaded, prometheus.CounterValue, float64(c.s.UploadedBytes()))
	ch <- prometheus.MustNewConstMetric(descDiskRead, prometheus.CounterValue, float64(c.s.DiskReadBytes()))
	_, registered := c.s.Loaded()
	ch <- prometheus.MustNewConstMetric(descRegistered, prometheus.GaugeValue, float64(registered))
	ch <- prometheus.MustNewConstMetric(descLoads, prometheus.CounterValue, float64(c.s.loads.Load()))
	ch <- prometheus.MustNewConstMetric(descUnloads, prometheus.CounterValue, float64(c.s.unloads.Load()))
	ts := c.s.Torrents()
	peers := 0
	for _, t := range ts {
		peers += t.Peers
		ch <- prometheus.MustNewConstMetric(descTorrentUploaded, prometheus.CounterValue, float64(t.UploadedBytes), hex.EncodeToString(t.InfoHash[:]))
	}
	ch <- prometheus.MustNewConstMetric(descTorrents, prometheus.GaugeValue, float64(len(ts)))
	ch <- prometheus.MustNewConstMetric(descPeers, prometheus.GaugeValue, float64(peers))
}
