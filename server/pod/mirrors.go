package pod

import (
	"path/filepath"

	"github.com/swarmtube/swarmtube/server/mirrors"
)

// openMirrors makes the mirrors of friends' videos (issue 18), after the
// video catalogue and before federation: they take their .torrent from the
// catalogue's friends, fetch and seed with the seeder, announce through the
// outbox, receive friends' mirror events from federation, and serve
// through the catalogue's torrent route and the web seed.
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
		// A copy failing its check costs its pod score; federation,
		// made next, ejects a pod below the threshold, and its mirrors
		// with it (Mirrors.PodGoneTx), so each needs the other: this is
		// called from Run, after New.
		Penalize: func(friend, reason string) { p.fed.Penalize(friend, reason) },
	}, p.store, p.videos, p.outbox, p.seeder, p.log.With("component", "mirrors"), p.reg)
	return err
}
