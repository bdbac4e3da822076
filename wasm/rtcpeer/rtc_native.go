//go:build !js

package rtcpeer

import (
	"context"
	"errors"

	"github.com/pion/webrtc/v3"
)

func newPeerConnection(cfg Config) (*webrtc.PeerConnection, error) {
	var se webrtc.SettingEngine
	// Browsers on this machine offer only mDNS host candidates; a native
	// peer reaches them (and other native peers) over loopback.
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	api := webrtc.NewAPI(webrtc.WithSettingEngine(se))
	return api.NewPeerConnection(cfg.configuration())
}

type pionChannel struct{ dc *webrtc.DataChannel }

func (c pionChannel) send(p []byte) error    { return c.dc.Send(p) }
func (c pionChannel) bufferedAmount() uint64 { return c.dc.BufferedAmount() }
func (c pionChannel) close()                 { c.dc.Close() }

func bind(p *Pending, dc *webrtc.DataChannel) {
	c := p.conn
	dc.SetBufferedAmountLowThreshold(lowWater)
	dc.OnBufferedAmountLow(c.bufferedLow)
	// pion calls OnMessage from one read loop, in order.
	dc.OnMessage(func(m webrtc.DataChannelMessage) { c.deliver(m.Data) })
	dc.OnClose(c.markClosed)
	dc.OnOpen(func() {
		c.mu.Lock()
		c.dc = pionChannel{dc}
		c.mu.Unlock()
		p.opened()
	})
}

func createChannel(p *Pending) error {
	dc, err := p.pc.CreateDataChannel("webrtc-datachannel", nil)
	if err != nil {
		return err
	}
	bind(p, dc)
	return nil
}

func acceptChannel(p *Pending) {
	p.pc.OnDataChannel(func(dc *webrtc.DataChannel) { bind(p, dc) })
}

// selectedRelay reads the selected candidate pair from pion's ICE transport.
func selectedRelay(_ context.Context, pc *webrtc.PeerConnection) (bool, error) {
	sctp := pc.SCTP()
	if sctp == nil {
		return false, errors.New("rtcpeer: no SCTP transport")
	}
	pair, err := sctp.Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil {
		return false, errors.New("rtcpeer: no selected candidate pair")
	}
	return pair.Local.Typ == webrtc.ICECandidateTypeRelay || pair.Remote.Typ == webrtc.ICECandidateTypeRelay, nil
}
