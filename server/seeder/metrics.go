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
		"Torrents being seeded.", nil, nil)
	descPeers = prometheus.NewDesc("swarmtube_seeder_peers",
		"Peers connected to the seeder, over all torrents.", nil, nil)
)

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descUploaded, descTorrentUploaded, descDiskRead, descTorrents, descPeers} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(descUploaded, prometheus.CounterValue, float64(c.s.UploadedBytes()))
	ch <- prometheus.MustNewConstMetric(descDiskRead, prometheus.CounterValue, float64(c.s.DiskReadBytes()))
	ts := c.s.Torrents()
	peers := 0
	for _, t := range ts {
		peers += t.Peers
		ch <- prometheus.MustNewConstMetric(descTorrentUploaded, prometheus.CounterValue, float64(t.UploadedBytes), hex.EncodeToString(t.InfoHash[:]))
	}
	ch <- prometheus.MustNewConstMetric(descTorrents, prometheus.GaugeValue, float64(len(ts)))
	ch <- prometheus.MustNewConstMetric(descPeers, prometheus.GaugeValue, float64(peers))
}
