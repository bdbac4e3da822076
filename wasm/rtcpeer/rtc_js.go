//go:build js && wasm

package rtcpeer

import (
	"context"
	"errors"
	"fmt"
	"syscall/js"

	"github.com/pion/webrtc/v3"

	"github.com/swarmtube/swarmtube/wasm/jsutil"
)

func newPeerConnection(cfg Config) (*webrtc.PeerConnection, error) {
	return webrtc.NewPeerConnection(cfg.configuration())
}

// jsChannel is the browser's RTCDataChannel, used directly: pion's js
// wrapper hands each message to a new goroutine (no order guarantee) and
// its Detach has no backpressure.
type jsChannel struct {
	dc    js.Value
	funcs []js.Func
}

func (c *jsChannel) send(p []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("rtcpeer: send: %v", r)
		}
	}()
	a := js.Global().Get("Uint8Array").New(len(p))
	js.CopyBytesToJS(a, p)
	c.dc.Call("send", a)
	return nil
}

func (c *jsChannel) bufferedAmount() uint64 { return uint64(c.dc.Get("bufferedAmount").Int()) }

func (c *jsChannel) close() {
	c.dc.Call("close")
	for _, f := range []string{"onopen", "onmessage", "onclose", "onbufferedamountlow"} {
		c.dc.Set(f, js.Null())
	}
	for _, f := range c.funcs {
		f.Release()
	}
	c.funcs = nil
}

func bind(p *Pending, dc js.Value) {
	c := p.conn
	ch := &jsChannel{dc: dc}
	on := func(event string, f func(args []js.Value)) {
		fn := js.FuncOf(func(_ js.Value, args []js.Value) any {
			f(args)
			return nil
		})
		ch.funcs = append(ch.funcs, fn)
		dc.Set(event, fn)
	}
	dc.Set("binaryType", "arraybuffer")
	dc.Set("bufferedAmountLowThreshold", lowWater)
	// Copying the message out is synchronous and short, so it is done in
	// the callback itself, which keeps messages in order.
	on("onmessage", func(args []js.Value) {
		data := args[0].Get("data")
		if data.Type() == js.TypeString {
			c.deliver([]byte(data.String()))
			return
		}
		u8 := js.Global().Get("Uint8Array").New(data)
		buf := make([]byte, u8.Length())
		js.CopyBytesToGo(buf, u8)
		c.deliver(buf)
	})
	on("onbufferedamountlow", func([]js.Value) { c.bufferedLow() })
	on("onclose", func([]js.Value) { go c.markClosed() })
	open := func() {
		c.mu.Lock()
		c.dc = ch
		c.mu.Unlock()
		p.opened()
	}
	if dc.Get("readyState").String() == "open" {
		open()
	} else {
		on("onopen", func([]js.Value) { open() })
	}
}

func createChannel(p *Pending) error {
	dc := p.pc.JSValue().Call("createDataChannel", "webrtc-datachannel")
	bind(p, dc)
	return nil
}

func acceptChannel(p *Pending) {
	fn := js.FuncOf(func(_ js.Value, args []js.Value) any {
		bind(p, args[0].Get("channel"))
		return nil
	})
	p.pc.JSValue().Set("ondatachannel", fn)
	go func() { // release once the connection is over
		<-p.conn.done
		p.pc.JSValue().Set("ondatachannel", js.Null())
		fn.Release()
	}()
}

// selectedRelay reads the selected candidate pair from the browser's
// getStats (W3C webrtc-stats): the transport's selectedCandidatePairId,
// else a nominated pair that succeeded (Firefox has no transport stats),
// and the candidateType of its two candidates.
func selectedRelay(ctx context.Context, pc *webrtc.PeerConnection) (relayed bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("rtcpeer: getStats: %v", r)
		}
	}()
	report, err := jsutil.Await(ctx, pc.JSValue().Call("getStats"))
	if err != nil {
		return false, err
	}
	stats := map[string]js.Value{}
	collect := js.FuncOf(func(_ js.Value, args []js.Value) any {
		if len(args) > 0 && args[0].Get("id").Type() == js.TypeString {
			stats[args[0].Get("id").String()] = args[0]
		}
		return nil
	})
	report.Call("forEach", collect)
	collect.Release()
	str := func(v js.Value, k string) string {
		if f := v.Get(k); f.Type() == js.TypeString {
			return f.String()
		}
		return ""
	}
	var pair js.Value
	for _, s := range stats {
		if str(s, "type") == "transport" {
			if p, ok := stats[str(s, "selectedCandidatePairId")]; ok {
				pair = p
			}
		}
	}
	if pair.IsUndefined() {
		for _, s := range stats {
			if str(s, "type") == "candidate-pair" && str(s, "state") == "succeeded" &&
				(s.Get("nominated").Truthy() || s.Get("selected").Truthy()) {
				pair = s
			}
		}
	}
	if pair.IsUndefined() {
		return false, errors.New("rtcpeer: no selected candidate pair")
	}
	local, remote := stats[str(pair, "localCandidateId")], stats[str(pair, "remoteCandidateId")]
	if local.IsUndefined() || remote.IsUndefined() {
		return false, errors.New("rtcpeer: selected pair without candidates")
	}
	return str(local, "candidateType") == "relay" || str(remote, "candidateType") == "relay", nil
}
