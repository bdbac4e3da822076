package pod

import (
	"path/filepath"

	"github.com/swarmtube/swarmtube/server/mirrors"
)

// openMirrors starts the mirrors of friends' videos (issue 18): they
// take their .torrent from the video catalogue's friends, fetch and seed
// with the seeder, announce through federation, and serve through the
// catalogue's torrent route and the web seed.
func (p *Pod) openMirrors() error {
	var err error
	p.mirrors, err = mirrors.New(mirrors.Config{
		SelfURL:     p.cfg.URL,
		Dir:         filepath.Join(p.cfg.DataDir, "mirrors"),
		MaxBytes:    p.cfg.MirrorMaxBytes,
		Strategy:    p.cfg.MirrorStrategy,
		MinLifetime: p.cfg.MirrorMinLifetime,
		Interval:    p.cfg.MirrorInterval,
		HTTPClient:  p.guarded,
	}, p.store, p.videos, p.outbox, p.seeder, p.log.With("component", "mirrors"), p.reg)
	if err != nil {
		return err
	}
	p.fed.SetMirrors(p.mirrors)
	p.mirrors.SetScores(p.fed)
	p.videos.SetMirrorTorrents(p.mirrors.Torrent)
	return nil
}
