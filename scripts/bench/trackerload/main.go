// Command trackerload is the tracker load generator of
// scripts/bench/tracker.sh.
//
// WebSocket mode (-mode ws) holds -conns connections to a WebTorrent
// tracker; each announces in a closed loop (send, wait for the reply, send
// again) with -offers offers of -sdp bytes, to one of -hashes info hashes
// (connection i uses hash i mod hashes). It reports announces/s, p50/p99
// latency from sending an announce to receiving its reply, offers relayed
// to its connections, errors, and the server's peak RSS (VmHWM of -pid).
//
// HTTP mode (-mode http) runs -conns workers sending BEP 3 announces
// (compact) to -url, by default without keep-alive (a new TCP connection
// per announce, as opentracker is usually measured), and reports
// announces/s and latency.
//
// Output is one line of key=value pairs, for the script to parse.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"

	"github.com/swarmtube/swarmtube/shared/trackerproto"
)

func main() {
	var (
		mode       = flag.String("mode", "ws", "ws or http")
		target     = flag.String("url", "ws://127.0.0.1:8000/tracker/socket", "tracker URL (socket or announce)")
		conns      = flag.Int("conns", 100, "connections (ws) or workers (http)")
		hashes     = flag.Int("hashes", 10, "distinct info hashes")
		offers     = flag.Int("offers", 5, "offers per announce (ws)")
		sdpBytes   = flag.Int("sdp", 600, "bytes of SDP per offer (ws)")
		duration   = flag.Duration("duration", 10*time.Second, "measured time")
		warmup     = flag.Duration("warmup", 2*time.Second, "time before measuring")
		pid        = flag.Int("pid", 0, "server process whose peak RSS to report")
		keepAlive  = flag.Bool("keepalive", false, "reuse HTTP connections (http)")
		hashFile   = flag.String("hashfile", "", "file of hex info hashes to use instead of -hashes random ones")
		goroutines = flag.Bool("goroutines", runtime.GOOS != "linux", "ws: a goroutine per connection instead of one epoll loop (Linux)")
	)
	flag.Parse()
	ihs, err := infoHashes(*hashes, *hashFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "trackerload:", err)
		os.Exit(1)
	}
	switch *mode {
	case "ws":
		if *goroutines {
			err = runWS(*target, *conns, ihs, *offers, *sdpBytes, *warmup, *duration, *pid)
		} else {
			err = runWSEpoll(*target, *conns, ihs, *offers, *sdpBytes, *warmup, *duration, *pid)
		}
	case "http":
		err = runHTTP(*target, *conns, ihs, *keepAlive, *warmup, *duration, *pid)
	default:
		err = fmt.Errorf("unknown mode %q", *mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "trackerload:", err)
		os.Exit(1)
	}
}

// stats collects latencies of the measured window.
type stats struct {
	measuring atomic.Bool
	count     atomic.Int64
	relayed   atomic.Int64
	errors    atomic.Int64
	mu        sync.Mutex // guards lat
	lat       []time.Duration
}

func (s *stats) record(d time.Duration) {
	if !s.measuring.Load() {
		return
	}
	s.count.Add(1)
	s.mu.Lock()
	s.lat = append(s.lat, d)
	s.mu.Unlock()
}

// cpuTicks returns utime+stime of pid (0: this process) in clock ticks.
func cpuTicks(pid int) int64 {
	p := "/proc/self/stat"
	if pid != 0 {
		p = fmt.Sprintf("/proc/%d/stat", pid)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return 0
	}
	// Fields after the parenthesised command name; utime and stime are 14 and 15.
	_, rest, _ := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return u + st
}

// window measures CPU use of the server and of the generator.
type window struct {
	pid             int
	srv0, self0     int64
	srvPct, selfPct float64
}

func (w *window) begin(pid int) { w.pid, w.srv0, w.self0 = pid, cpuTicks(pid), cpuTicks(0) }

// end computes CPU percentages (100 = one core), assuming 100 ticks/s.
func (w *window) end(d time.Duration) {
	if w.pid != 0 {
		w.srvPct = float64(cpuTicks(w.pid)-w.srv0) / d.Seconds()
	}
	w.selfPct = float64(cpuTicks(0)-w.self0) / d.Seconds()
}

func (s *stats) report(mode string, conns int, dur time.Duration, pid int, w *window) {
	s.mu.Lock()
	lat := s.lat
	s.mu.Unlock()
	slices.Sort(lat)
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	fmt.Printf("mode=%s conns=%d announces_per_s=%.0f p50_ms=%.2f p99_ms=%.2f relayed_per_s=%.0f errors=%d peak_rss_mb=%.1f server_cpu_pct=%.0f loadgen_cpu_pct=%.0f\n",
		mode, conns, float64(s.count.Load())/dur.Seconds(), pct(0.50), pct(0.99),
		float64(s.relayed.Load())/dur.Seconds(), s.errors.Load(), peakRSS(pid), w.srvPct, w.selfPct)
}

// peakRSS reads VmHWM (peak resident set) of pid in MB.
func peakRSS(pid int) float64 {
	if pid == 0 {
		return 0
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return float64(kb) / 1024
		}
	}
	return 0
}

func randID() trackerproto.ID {
	var id trackerproto.ID
	_, _ = rand.Read(id[:])
	return id
}

// infoHashes returns n random hashes, or the hex hashes listed in the file
// named by -hashfile (so a whitelisting tracker can know them).
func infoHashes(n int, file string) ([]trackerproto.ID, error) {
	if file == "" {
		out := make([]trackerproto.ID, n)
		for i := range out {
			out[i] = randID()
		}
		return out, nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var out []trackerproto.ID
	for _, line := range strings.Fields(string(data)) {
		var id trackerproto.ID
		if _, err := hex.Decode(id[:], []byte(line)); err != nil || len(line) != 40 {
			return nil, fmt.Errorf("%s: bad hash %q", file, line)
		}
		out = append(out, id)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no hashes", file)
	}
	return out, nil
}

func runWS(target string, conns int, hashes []trackerproto.ID, nOffers, sdpBytes int, warmup, dur time.Duration, pid int) error {
	sdp := offerSDP(sdpBytes)
	var st stats
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	ready := make(chan error, conns)
	start := make(chan struct{})
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wsPeer(ctx, target, hashes[i%len(hashes)], nOffers, sdp, &st, ready, start)
		}()
		if i%200 == 199 {
			time.Sleep(20 * time.Millisecond) // don't overflow the listen backlog
		}
	}
	for range conns {
		if err := <-ready; err != nil {
			cancel()
			wg.Wait()
			return fmt.Errorf("connect: %w", err)
		}
	}
	// Announcing starts when every connection is up, so that a slow
	// server's accept queue is not starved by early peers.
	close(start)
	measure(&st, "ws", conns, warmup, dur, pid)
	cancel()
	wg.Wait()
	return nil
}

// offerSDP returns an offer of about n bytes of SDP, as JSON.
func offerSDP(n int) string {
	return `{"type":"offer","sdp":"v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n` +
		strings.Repeat("a=x", max(0, n/3)) + `\r\n"}`
}

// wsPeer announces in a closed loop until ctx ends.
func wsPeer(ctx context.Context, target string, ih trackerproto.ID, nOffers int, sdp string, st *stats, ready chan<- error, start <-chan struct{}) {
	conn, br, err := dialWS(ctx, target)
	ready <- err
	if err != nil {
		return
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	select {
	case <-start:
	case <-ctx.Done():
		return
	}
	// One goroutine per connection sends an announce, then reads frames
	// (offers relayed to it meanwhile, counted) until the announce's reply.
	// The frames are encoded once, with a zero mask key (valid, and the
	// server cannot tell): the generator must stay much cheaper than the
	// servers it loads, and the servers parse every announce in full anyway.
	rd := bufio.NewReaderSize(conn, 16<<10)
	if br != nil && br.Buffered() > 0 {
		rd = bufio.NewReaderSize(io.MultiReader(br, conn), 16<<10)
	}
	frame, update := announceFrames(ih, nOffers, sdp)
	fail := func() {
		if ctx.Err() == nil {
			st.errors.Add(1)
		}
	}
	for {
		t0 := time.Now()
		_ = conn.SetDeadline(t0.Add(30 * time.Second))
		if _, err := conn.Write(frame); err != nil {
			fail()
			return
		}
		frame = update
	read:
		for {
			kind, err := readKind(rd)
			if err != nil {
				fail()
				return
			}
			switch kind {
			case kindOffer:
				if st.measuring.Load() {
					st.relayed.Add(1)
				}
			case kindReply:
				break read
			case kindFailure:
				st.errors.Add(1)
			}
		}
		st.record(time.Since(t0))
	}
}

// dialWS connects to the WebSocket tracker, retrying: a server's accept
// backlog can overflow while thousands connect. br holds what the server
// sent after its handshake, if anything.
func dialWS(ctx context.Context, target string) (conn net.Conn, br *bufio.Reader, err error) {
	for attempt := range 5 {
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		conn, br, _, err = ws.Dial(dctx, target)
		cancel()
		if err == nil || ctx.Err() != nil {
			break
		}
		time.Sleep(time.Duration(100<<attempt) * time.Millisecond)
	}
	return conn, br, err
}

// announceFrames returns a new peer's first announce (event started) and
// the ones after it (update), framed: nOffers offers of sdp, random ids.
func announceFrames(ih trackerproto.ID, nOffers int, sdp string) (started, update []byte) {
	req := trackerproto.Request{Action: trackerproto.ActionAnnounce, InfoHash: ih, PeerID: randID(), Left: 1000,
		Event: trackerproto.EventStarted, NumWant: nOffers}
	for range nOffers {
		req.Offers = append(req.Offers, trackerproto.Offer{ID: randID(), SDP: []byte(sdp)})
	}
	started = clientFrame(req.AppendJSON(nil))
	req.Event = trackerproto.EventUpdate
	return started, clientFrame(req.AppendJSON(nil))
}

// measure waits out the warm-up, then measures st and the CPU use of pid
// and of this process for dur, and prints the report line.
func measure(st *stats, mode string, conns int, warmup, dur time.Duration, pid int) {
	time.Sleep(warmup)
	var win window
	win.begin(pid)
	st.measuring.Store(true)
	t0 := time.Now()
	time.Sleep(dur)
	st.measuring.Store(false)
	elapsed := time.Since(t0)
	win.end(elapsed)
	st.report(mode, conns, elapsed, pid, &win)
}

// clientFrame frames payload as a masked text frame with mask key zero.
func clientFrame(payload []byte) []byte {
	h := ws.Header{Fin: true, OpCode: ws.OpText, Masked: true, Length: int64(len(payload))}
	var b bytes.Buffer
	_ = ws.WriteHeader(&b, h)
	b.Write(payload)
	return b.Bytes()
}

const (
	kindOther = iota
	kindReply
	kindOffer
	kindFailure
)

var (
	prefixReply   = []byte(`{"complete":`)
	prefixOffer   = []byte(`{"action":"announce","offer":`)
	prefixFailure = []byte(`{"failure reason"`)
)

// readKind reads one server frame and says what it was.
func readKind(rd *bufio.Reader) (int, error) {
	h, err := ws.ReadHeader(rd)
	if err != nil {
		return 0, err
	}
	if h.OpCode == ws.OpClose {
		return 0, io.EOF
	}
	n := int(min(h.Length, 64))
	head, err := rd.Peek(n)
	if err != nil {
		return 0, err
	}
	kind := classify(head)
	_, err = rd.Discard(int(h.Length))
	return kind, err
}

// classify says what a server message is from its first bytes.
func classify(head []byte) int {
	head = head[:min(len(head), 64)]
	switch {
	case bytes.HasPrefix(head, prefixReply):
		return kindReply
	case bytes.HasPrefix(head, prefixOffer):
		return kindOffer
	case bytes.HasPrefix(head, prefixFailure), bytes.Contains(head, []byte(`"failure reason"`)):
		return kindFailure
	}
	return kindOther
}

// escape percent-encodes every byte but the unreserved ones (RFC 3986), as
// BitTorrent clients do; url.QueryEscape's '+' for space is not understood
// by every tracker.
func escape(b []byte) string {
	const hexDigits = "0123456789ABCDEF"
	out := make([]byte, 0, 3*len(b))
	for _, c := range b {
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			out = append(out, c)
		} else {
			out = append(out, '%', hexDigits[c>>4], hexDigits[c&15])
		}
	}
	return string(out)
}

func runHTTP(target string, workers int, hashes []trackerproto.ID, keepAlive bool, warmup, dur time.Duration, pid int) error {
	// Without keep-alive every announce is a new TCP connection: spread the
	// source addresses over 127.0.0.2-251 so that TIME_WAIT sockets do not
	// exhaust one address's ephemeral ports.
	var next atomic.Uint32
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := net.Dialer{Timeout: 10 * time.Second}
		if host, _, err := net.SplitHostPort(addr); err == nil && strings.HasPrefix(host, "127.") {
			d.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+next.Add(1)%250))}
		}
		return d.DialContext(ctx, network, addr)
	}
	tr := &http.Transport{DisableKeepAlives: !keepAlive, MaxIdleConnsPerHost: workers, DialContext: dial}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var st stats
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			peer := randID()
			for i := 0; ctx.Err() == nil; i++ {
				ih := hashes[(w+i)%len(hashes)]
				u := fmt.Sprintf("%s?info_hash=%s&peer_id=%s&port=%d&uploaded=0&downloaded=0&left=1000&compact=1&numwant=50",
					target, escape(ih[:]), escape(peer[:]), 1024+w)
				t0 := time.Now()
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						if st.errors.Add(1) == 1 {
							fmt.Fprintln(os.Stderr, "trackerload: first error:", err)
						}
						time.Sleep(10 * time.Millisecond)
					}
					continue
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK || strings.Contains(string(body), "failure reason") {
					if st.errors.Add(1) == 1 {
						fmt.Fprintf(os.Stderr, "trackerload: first error: %d %q %v\n", resp.StatusCode, body[:min(len(body), 200)], err)
					}
					continue
				}
				st.record(time.Since(t0))
			}
		}()
	}
	measure(&st, "http", workers, warmup, dur, pid)
	cancel()
	wg.Wait()
	return nil
}
