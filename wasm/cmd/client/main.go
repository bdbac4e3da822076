//go:build js && wasm

// Command client is Swarmtube's browser peer, built with GOOS=js
// GOARCH=wasm to web/static/client.wasm. It exports one global object,
// globalThis.swarmtube, and blocks forever. Pages normally use it through
// the ES module /static/engine/engine.js (see web/static/engine/README.md),
// which loads it, registers the Service Worker and plays through it.
//
// # JavaScript API
//
// All byte arrays are Uint8Array; info hashes are 40 lower-case hex.
//
//	swarmtube.version                          string
//	swarmtube.open(torrent, opts?)             Promise<Handle>   stream/download a .torrent's file
//	swarmtube.seedFile(file, opts)             Promise<Handle>   hash a File and seed it at once
//	swarmtube.hashBenchmark(mib)               Promise<{subtleMBps, subtleParallelMBps, goMBps}>
//	swarmtube.storage(opts?)                   Promise<{backend, bytes, budget, videos, persisted}>  the
//	                                          browser's store of verified pieces (backend "opfs",
//	                                          "indexeddb", or "none": then bytes and budget are 0);
//	                                          persisted: navigator.storage.persisted()
//	swarmtube.clearStorage(opts?)              Promise<{backend, bytes, budget, videos, persisted}>  deletes every
//	                                          stored piece; open videos keep playing (and fetch again)
//
// Verified pieces are kept in the browser's storage (the Origin Private File
// System, IndexedDB where OPFS cannot be written; package piecestore) up to
// a budget: storageShare (default 0.25) of navigator.storage.estimate()'s
// quota, or storageBudget bytes; the least recently used videos make room
// first. A reload or a later visit plays and seeds those pieces without
// fetching them, each verified (SHA-1) when read back. Once a page has
// stored its first piece it asks the browser to keep them under storage
// pressure (navigator.storage.persist(), once per page; a denial changes
// nothing else).
//
// opts (all optional): memoryBudget (bytes of pieces in memory, default
// 32 MiB with storage, 512 MiB without), storage (false: memory only),
// storageShare, storageBudget (see above; the first open or storage call
// sets up the store, later ones may change its budget), storageBackend
// ("indexeddb" skips OPFS: tests of the fallback), trackers
// (string[], replaces the announce-list), podTracker (open only: the
// tracker announced to first, before the others; default this page's
// pod's WebSocket tracker, torrentfile.PodTrackers(location.origin),
// unless trackers is given; false: none), origin (open only: the video's
// origin pod URL, which tells its web seeds from its mirrors' in stats),
// iceServers (RTCIceServer[];
// engine.js fetches the pod's from /api/v1/webrtc/ice-servers), relayOnly
// (ICE transport policy "relay": for measurements only),
// webSeed (false disables it), logLevel ("debug"|"info"|"warn"), hasher
// ("go", the default, or "subtle" for SubtleCrypto).
// seedFile also takes title (video title → torrentfile.FileName), name
// (exact info.name instead), onProgress(hashedBytes, totalBytes); MP4s are
// rewritten to faststart first (shared/media), as the pod does, so both
// compute the same info hash.
//
//	Handle.infoHash, .name, .length, .pieceLength, .pieces, .peerId
//	Handle.torrent                            Uint8Array of the .torrent (seedFile: built here)
//	Handle.read(streamId, offset, maxLen)     Promise<Uint8Array>   ≤ maxLen bytes from one piece;
//	                                          empty at end of file. streamId names the reader
//	                                          whose position steers the piece picker.
//	Handle.closeStream(streamId)
//	Handle.addWebSeedData(offset, bytes, url) Promise<number>   bytes the page read from the web seed
//	                                          at url before the engine ran (engine.js playEarly): counted
//	                                          in bytesFromWebSeed and that seed's webSeeds entry; whole
//	                                          pieces that verify are stored and not fetched again;
//	                                          resolves to their count
//	Handle.setPlayback({position, duration,   the player's state (engine.js reports it every 250 ms):
//	    rate, paused, buffer})                seconds of media; the pod is asked only for pieces within
//	                                          30 s of media after position (bitrate = length ÷ duration)
//	Handle.setBufferAhead(seconds)            only the buffer, for players that know nothing else
//	Handle.stats()                            {peers, peerList, downloadRate, uploadRate,
//	                                          bytesFromPeers, bytesFromServers (of bytesFromPeers:
//	                                          pods' seeders), bytesFromWebSeed = bytesFromOrigin +
//	                                          bytesFromMirrors (web seeds by pod, see origin),
//	                                          webSeeds [{url, origin, bytes, rate (bytes/s),
//	                                          latencyMs, failures, resting}], bytesUploaded,
//	                                          piecesHave, pieces, bytesStored (in memory),
//	                                          piecesPersisted, bytesPersisted (in the browser's
//	                                          storage), badStored (failed read-back), length, badPieces,
//	                                          relayedPeers (connections through a TURN relay),
//	                                          unreachablePeers (browser peers no ICE path reached)}
//	Handle.close()
//
// Reads are served while pieces arrive; everything verified is uploaded to
// other peers until close.
package main

import (
	"context"
	"crypto/sha1" //nolint:gosec // BitTorrent v1 is SHA-1
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"syscall/js"
	"time"

	"github.com/pion/webrtc/v3"

	"github.com/swarmtube/swarmtube/shared/torrentfile"
	"github.com/swarmtube/swarmtube/wasm/engine"
	"github.com/swarmtube/swarmtube/wasm/jsutil"
	"github.com/swarmtube/swarmtube/wasm/piecestore"
	"github.com/swarmtube/swarmtube/wasm/swarm"
)

const version = "0.1.0"

func main() {
	api := js.Global().Get("Object").New()
	api.Set("version", version)
	api.Set("open", jsutil.Func(func(args []js.Value) any {
		return jsutil.Promise(func() (any, error) { return open(args) })
	}))
	api.Set("seedFile", jsutil.Func(func(args []js.Value) any {
		return jsutil.Promise(func() (any, error) { return seedFile(args) })
	}))
	api.Set("hashBenchmark", jsutil.Func(func(args []js.Value) any {
		return jsutil.Promise(func() (any, error) { return hashBenchmark(args) })
	}))
	api.Set("storage", jsutil.Func(func(args []js.Value) any {
		o := arg(args, 0)
		return jsutil.Promise(func() (any, error) { return usage(pieceStore(o)), nil })
	}))
	api.Set("clearStorage", jsutil.Func(func(args []js.Value) any {
		o := arg(args, 0)
		return jsutil.Promise(func() (any, error) {
			st := pieceStore(o)
			if st == nil {
				return usage(nil), nil
			}
			if err := st.Clear(context.Background()); err != nil {
				return nil, err
			}
			return usage(st), nil
		})
	}))
	js.Global().Set("swarmtube", api)
	if cb := js.Global().Get("__swarmtubeReady"); cb.Type() == js.TypeFunction {
		cb.Invoke(api)
	}
	select {}
}

func arg(args []js.Value, i int) js.Value {
	if i < len(args) {
		return args[i]
	}
	return js.Undefined()
}

// options reads the opts object shared by open and seedFile.
func options(o js.Value) engine.Options {
	// Go's crypto/sha1 verifies pieces unless opts.hasher = "subtle"
	// selects SubtleCrypto. Neither is always faster: on a quiet machine Go
	// was 1.5–5× SubtleCrypto called from Go (the promise round trip
	// dominates), on one at load 40 SubtleCrypto was 1.1–1.8× Go; both
	// exceed what peers deliver (BENCHMARKS.md, "Piece verification").
	opt := engine.Options{}
	level := slog.LevelWarn
	if o.Type() != js.TypeObject {
		opt.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
		return opt
	}
	if v := o.Get("hasher"); v.Type() == js.TypeString && v.String() == "subtle" {
		opt.Hasher = jsutil.SubtleSHA1
	}
	if v := o.Get("memoryBudget"); v.Type() == js.TypeNumber {
		opt.MemoryBudget = int64(v.Float())
	}
	if v := o.Get("webSeed"); v.Type() == js.TypeBoolean && !v.Bool() {
		opt.NoWebSeed = true
	}
	if v := o.Get("trackers"); v.Type() == js.TypeObject {
		opt.Trackers = []string{}
		for i := 0; i < v.Length(); i++ {
			opt.Trackers = append(opt.Trackers, v.Index(i).String())
		}
	}
	if v := o.Get("iceServers"); v.Type() == js.TypeObject {
		var servers []webrtc.ICEServer
		if err := json.Unmarshal([]byte(js.Global().Get("JSON").Call("stringify", v).String()), &servers); err == nil {
			opt.RTC.ICEServers = servers
		}
	}
	if v := o.Get("relayOnly"); v.Type() == js.TypeBoolean {
		opt.RTC.RelayOnly = v.Bool()
	}
	if v := o.Get("logLevel"); v.Type() == js.TypeString {
		_ = level.UnmarshalText([]byte(v.String()))
	}
	opt.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	return opt
}

var (
	storeMu sync.Mutex
	store   *piecestore.Store // nil until set up, or when none is available
	tried   bool
)

// pieceStore returns the page's store of verified pieces, set up on the
// first call (OPFS, else IndexedDB, else none: nil) with the budget opts
// give (storageBudget bytes, or storageShare of the quota); later calls
// apply a budget they name.
func pieceStore(o js.Value) *piecestore.Store {
	storeMu.Lock()
	defer storeMu.Unlock()
	if o.Type() == js.TypeObject && o.Get("storage").Type() == js.TypeBoolean && !o.Get("storage").Bool() {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if !tried {
		tried = true
		var b piecestore.Backend
		// storageBackend "indexeddb" skips OPFS (tests of the fallback).
		forceIDB := o.Type() == js.TypeObject && o.Get("storageBackend").Type() == js.TypeString && o.Get("storageBackend").String() == "indexeddb"
		if fs, err := jsutil.OpenOPFS(ctx); err == nil && !forceIDB {
			b = fs
		} else {
			slog.Info("swarmtube: OPFS unavailable, trying IndexedDB", "err", err)
			if d, err := jsutil.OpenIndexedDB(ctx); err == nil {
				b = d
			} else {
				slog.Warn("swarmtube: no browser storage: pieces stay in memory", "err", err)
				return nil
			}
		}
		s, err := piecestore.Load(ctx, &persistOnWrite{Backend: b}, 0)
		if err != nil {
			slog.Warn("swarmtube: browser storage unreadable: pieces stay in memory", "err", err)
			return nil
		}
		budget := storageBudget(ctx, o, defaultShare)
		if budget <= 0 {
			slog.Warn("swarmtube: the browser grants no storage quota: pieces stay in memory")
			return nil
		}
		store = s
		store.SetBudget(budget)
	} else if store != nil && o.Type() == js.TypeObject && (o.Get("storageBudget").Type() == js.TypeNumber || o.Get("storageShare").Type() == js.TypeNumber) {
		store.SetBudget(storageBudget(ctx, o, defaultShare))
	}
	return store
}

// persistOnWrite is the page's backend: after its first piece is written,
// it asks the browser to make the origin's storage persistent
// (jsutil.RequestPersist), once per page. Not on page load: a browser that
// asks the viewer (Firefox) would ask before anything was kept, and a
// page that only plays what it holds has nothing new to keep. A denial
// changes nothing else: pieces are still stored, as "best effort" data the
// browser may evict under storage pressure (storage() tells which).
type persistOnWrite struct {
	piecestore.Backend
	once sync.Once
}

// WritePiece implements piecestore.Backend.
func (p *persistOnWrite) WritePiece(ctx context.Context, torrent string, index int, data []byte) error {
	err := p.Backend.WritePiece(ctx, torrent, index, data)
	if err == nil {
		p.once.Do(jsutil.RequestPersist)
	}
	return err
}

// defaultShare is the part of the browser's quota for this origin that
// stored pieces may take: the rest stays for the browser's caches and
// other data, and a quota is often most of a disk.
const defaultShare = 0.25

func storageBudget(ctx context.Context, o js.Value, share float64) int64 {
	if o.Type() == js.TypeObject {
		if v := o.Get("storageBudget"); v.Type() == js.TypeNumber {
			return int64(v.Float())
		}
		if v := o.Get("storageShare"); v.Type() == js.TypeNumber && v.Float() > 0 && v.Float() <= 1 {
			share = v.Float()
		}
	}
	quota, _, err := jsutil.StorageEstimate(ctx)
	if err != nil || quota <= 0 {
		return 0 // nothing is stored: a budget of 0 evicts everything
	}
	return int64(share * float64(quota))
}

// usage is storage()'s answer: the store's Usage and whether the browser
// made the origin's storage persistent (persistOnWrite asked).
func usage(st *piecestore.Store) js.Value {
	u := struct {
		piecestore.Usage
		Persisted bool `json:"persisted"`
	}{Usage: piecestore.Usage{Backend: "none"}}
	if st != nil {
		u.Usage = st.Usage()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	u.Persisted = jsutil.Persisted(ctx)
	b, _ := json.Marshal(u)
	return js.Global().Get("JSON").Call("parse", string(b))
}

func open(args []js.Value) (any, error) {
	tb := jsutil.Bytes(arg(args, 0))
	if len(tb) == 0 {
		return nil, errors.New("open: first argument must be the .torrent as a Uint8Array")
	}
	o := arg(args, 1)
	opt := options(o)
	opt.Store = pieceStore(o)
	if opt.Trackers == nil {
		opt.PodTracker, _ = torrentfile.PodTrackers(js.Global().Get("location").Get("origin").String())
	}
	if o.Type() == js.TypeObject {
		switch v := o.Get("podTracker"); v.Type() {
		case js.TypeString:
			opt.PodTracker = v.String()
		case js.TypeBoolean:
			if !v.Bool() {
				opt.PodTracker = ""
			}
		}
		if v := o.Get("origin"); v.Type() == js.TypeString {
			opt.OriginPod = v.String()
		}
	}
	s, err := engine.Open(tb, opt)
	if err != nil {
		return nil, err
	}
	return handle(s, tb), nil
}

// seedFile hashes a File as the pod will (engine.PrepareUpload, around
// the shared media.Prepare) and seeds it. Containers the pod transcodes are
// refused: their torrent covers other bytes.
func seedFile(args []js.Value) (any, error) {
	file, o := arg(args, 0), arg(args, 1)
	if file.Type() != js.TypeObject || file.Get("size").Type() != js.TypeNumber {
		return nil, errors.New("seedFile: first argument must be a File")
	}
	opt := options(o)
	src := io.ReaderAt(jsutil.NewBlobReader(file))
	size := int64(file.Get("size").Float())
	name, title := "", file.Get("name").String()
	var progress js.Value
	if o.Type() == js.TypeObject {
		if v := o.Get("name"); v.Type() == js.TypeString {
			name = v.String()
		} else if v := o.Get("title"); v.Type() == js.TypeString {
			title = v.String()
		}
		progress = o.Get("onProgress")
	}
	if opt.Trackers == nil { // this page's pod's WebSocket tracker
		ws, _ := torrentfile.PodTrackers(js.Global().Get("location").Get("origin").String())
		opt.Trackers = []string{ws}
	}
	last := time.Time{}
	up, err := engine.PrepareUpload(context.Background(), src, size, name, title, opt.Trackers, "Swarmtube "+version, func(done int64) {
		if progress.Type() == js.TypeFunction && (time.Since(last) > 100*time.Millisecond || done == size) {
			last = time.Now()
			progress.Invoke(float64(done), float64(size))
		}
	})
	if err != nil {
		return nil, fmt.Errorf("seedFile: %w", err)
	}
	mi, ih := up.Meta, up.InfoHash
	tb, err := mi.Bencode()
	if err != nil {
		return nil, err
	}
	opt.Source = up.Source
	s, err := engine.Start(mi, ih, opt)
	if err != nil {
		return nil, err
	}
	return handle(s, tb), nil
}

// handle builds the JavaScript object for a session.
func handle(s *engine.Session, torrentBytes []byte) js.Value {
	h := js.Global().Get("Object").New()
	info := s.Meta.Info
	h.Set("infoHash", hex.EncodeToString(s.InfoHash[:]))
	h.Set("name", info.Name)
	h.Set("length", float64(info.Length))
	h.Set("pieceLength", float64(info.PieceLength))
	h.Set("pieces", info.NumPieces())
	h.Set("peerId", string(s.PeerID[:8])+hex.EncodeToString(s.PeerID[8:]))
	h.Set("torrent", jsutil.Uint8Array(torrentBytes))
	var funcs []js.Func
	set := func(name string, f func(args []js.Value) any) {
		fn := jsutil.Func(f)
		funcs = append(funcs, fn)
		h.Set(name, fn)
	}
	set("read", func(args []js.Value) any {
		id := arg(args, 0).String()
		off := int64(arg(args, 1).Float())
		n := arg(args, 2).Int()
		return jsutil.Promise(func() (any, error) {
			buf := make([]byte, max(0, min(n, 4<<20)))
			k, err := s.Torrent.ReadAt(context.Background(), id, buf, off)
			if err != nil && !errors.Is(err, io.EOF) {
				return nil, err
			}
			return jsutil.Uint8Array(buf[:k]), nil
		})
	})
	set("setPlayback", func(args []js.Value) any {
		o := arg(args, 0)
		if o.Type() != js.TypeObject {
			return nil
		}
		num := func(k string, def float64) float64 {
			if v := o.Get(k); v.Type() == js.TypeNumber {
				return v.Float()
			}
			return def
		}
		s.Torrent.SetPlayback(swarm.Playback{
			Position: num("position", 0), Duration: num("duration", 0), Rate: num("rate", 1),
			Paused: o.Get("paused").Truthy(), Buffer: num("buffer", -1),
		})
		return nil
	})
	set("setBufferAhead", func(args []js.Value) any {
		s.Torrent.SetBufferAhead(arg(args, 0).Float())
		return nil
	})
	set("addWebSeedData", func(args []js.Value) any {
		off := int64(arg(args, 0).Float())
		data := jsutil.Bytes(arg(args, 1))
		url := ""
		if v := arg(args, 2); v.Type() == js.TypeString {
			url = v.String()
		}
		return jsutil.Promise(func() (any, error) {
			return s.Torrent.AddWebSeedData(context.Background(), url, off, data), nil
		})
	})
	set("closeStream", func(args []js.Value) any {
		s.Torrent.CloseStream(arg(args, 0).String())
		return nil
	})
	set("stats", func([]js.Value) any {
		b, _ := json.Marshal(s.Torrent.Stats())
		st := js.Global().Get("JSON").Call("parse", string(b))
		relayed, unreachable := s.Routes()
		st.Set("relayedPeers", relayed)
		st.Set("unreachablePeers", unreachable)
		return st
	})
	set("close", func([]js.Value) any {
		go func() {
			s.Close()
			for _, f := range funcs {
				f.Release()
			}
		}()
		return nil
	})
	return h
}

// hashBenchmark measures piece verification speed in this browser:
// SubtleCrypto (opts.hasher "subtle") and Go's crypto/sha1 (the default).
func hashBenchmark(args []js.Value) (any, error) {
	mib := 64
	if v := arg(args, 0); v.Type() == js.TypeNumber {
		mib = v.Int()
	}
	piece := make([]byte, 256<<10)
	for i := range piece {
		piece[i] = byte(i * 7)
	}
	n := mib * 4
	start := time.Now()
	for i := 0; i < n; i++ {
		if _, err := jsutil.SubtleSHA1(context.Background(), piece); err != nil {
			return nil, err
		}
	}
	subtle := float64(mib) / time.Since(start).Seconds()
	// The engine verifies pieces concurrently; SubtleCrypto runs off the
	// main thread, so measure eight at a time too.
	start = time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				if _, err := jsutil.SubtleSHA1(context.Background(), piece); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	parallel := float64(mib) / time.Since(start).Seconds()
	start = time.Now()
	for i := 0; i < n; i++ {
		sha1.Sum(piece) //nolint:gosec // benchmark
	}
	goRate := float64(mib) / time.Since(start).Seconds()
	o := js.Global().Get("Object").New()
	o.Set("subtleMBps", subtle*1.048576)
	o.Set("subtleParallelMBps", parallel*1.048576)
	o.Set("goMBps", goRate*1.048576)
	return o, nil
}
