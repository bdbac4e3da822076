package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

// box builds a box with a 32-bit size.
func box(typ string, payload ...[]byte) []byte {
	body := bytes.Join(payload, nil)
	out := binary.BigEndian.AppendUint32(nil, uint32(8+len(body)))
	return append(append(out, typ...), body...)
}

// largeBox builds a box with a 64-bit size.
func largeBox(typ string, payload ...[]byte) []byte {
	body := bytes.Join(payload, nil)
	out := binary.BigEndian.AppendUint32(nil, 1)
	out = append(out, typ...)
	out = binary.BigEndian.AppendUint64(out, uint64(16+len(body)))
	return append(out, body...)
}

func stco(typ string, offsets ...uint64) []byte {
	body := []byte{0, 0, 0, 0}
	body = binary.BigEndian.AppendUint32(body, uint32(len(offsets)))
	for _, o := range offsets {
		if typ == "stco" {
			body = binary.BigEndian.AppendUint32(body, uint32(o))
		} else {
			body = binary.BigEndian.AppendUint64(body, o)
		}
	}
	return box(typ, body)
}

var ftyp = box("ftyp", []byte("isom\x00\x00\x02\x00isomiso2avc1mp41"))

// moovWith builds a moov with one track per offset table.
func moovWith(tables ...[]byte) []byte {
	var traks [][]byte
	for _, t := range tables {
		traks = append(traks, box("trak",
			box("tkhd", make([]byte, 84)),
			box("mdia", box("mdhd", make([]byte, 24)), box("minf",
				box("vmhd", make([]byte, 12)),
				box("stbl", box("stsd", make([]byte, 16)), box("stsz", make([]byte, 12)), t)))))
	}
	return box("moov", append([][]byte{box("mvhd", make([]byte, 100))}, traks...)...)
}

// mp4MoovLast builds ftyp, mdat (with distinct chunks), moov pointing at
// the chunks.
func mp4MoovLast(table string) []byte {
	chunkA := bytes.Repeat([]byte("A"), 40)
	chunkB := bytes.Repeat([]byte("B"), 40)
	mdatOff := uint64(len(ftyp))
	mdat := box("mdat", chunkA, chunkB)
	offs := []uint64{mdatOff + 8, mdatOff + 8 + 40}
	return bytes.Join([][]byte{ftyp, mdat, moovWith(stco(table, offs[0]), stco(table, offs[1]))}, nil)
}

var sniffCases = []struct {
	name string
	head []byte
	want Container
}{
	{"mp4", ftyp, MP4},
	{"mp4 moov last", mp4MoovLast("stco"), MP4},
	{"heic image", box("ftyp", []byte("heic\x00\x00\x00\x00mif1heic")), Unknown},
	{"ftyp too big", append([]byte{0, 1, 0, 0}, []byte("ftypisom\x00\x00\x00\x00")...), Unknown},
	{"ftyp odd size", box("ftyp", []byte("isom\x00\x00\x00\x00ab")), Unknown},
	{"webm", []byte("\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08\x42\x82\x84webm\x42\x87\x81\x04\x42\x85\x81\x02"), WebM},
	{"matroska", []byte("\x1a\x45\xdf\xa3\x93\x42\x82\x88matroska\x42\x87\x81\x04\x42\x85\x81\x02"), Matroska},
	{"ebml other doctype", []byte("\x1a\x45\xdf\xa3\x87\x42\x82\x84abcd"), Unknown},
	{"quicktime", box("ftyp", []byte("qt  \x00\x00\x02\x00qt  ")), QuickTime},
	{"m4a", box("ftyp", []byte("M4A \x00\x00\x02\x00M4A mp42isom")), MP4},
	{"avi", []byte("RIFF\x00\x10\x00\x00AVI LIST"), AVI},
	{"wav is not avi", []byte("RIFF\x00\x10\x00\x00WAVEfmt "), Unknown},
	{"asf", []byte("\x30\x26\xB2\x75\x8E\x66\xCF\x11\xA6\xD9\x00\xAA\x00\x62\xCE\x6C\x00"), ASF},
	{"ebml truncated", []byte("\x1a\x45\xdf\xa3\x9f\x42\x82\x84we"), Unknown},
	{"ogg theora", oggPage("\x80theora"), Ogg},
	{"ogg opus", oggPage("OpusHead"), Ogg},
	{"ogg unknown codec", oggPage("garbage!"), Unknown},
	{"ogg not bos", func() []byte { p := oggPage("\x80theora"); p[5] = 0; return p }(), Unknown},
	{"text renamed mp4", []byte("hello, this is not a video at all\n"), Unknown},
	{"html", []byte("<!doctype html><title>x</title>"), Unknown},
	{"png", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), Unknown},
	{"empty", nil, Unknown},
	{"one byte", []byte{0x1a}, Unknown},
}

func oggPage(packet string) []byte {
	p := []byte("OggS\x00\x02")
	p = append(p, make([]byte, 20)...) // granule, serial, sequence, CRC
	p = append(p, 1, byte(len(packet)))
	return append(p, packet...)
}

func TestSniff(t *testing.T) {
	t.Parallel()
	for _, tc := range sniffCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Sniff(tc.head)
			if got != tc.want {
				t.Fatalf("Sniff = %v, want %v (err %v)", got, tc.want, err)
			}
			if (err != nil) != (tc.want == Unknown) || (err != nil && !errors.Is(err, ErrUnknownContainer)) {
				t.Fatalf("err = %v", err)
			}
		})
	}
	for _, c := range []Container{MP4, WebM, Ogg, QuickTime, Matroska, AVI, ASF} {
		if c.Ext() == "" || !strings.HasPrefix(c.ContentType(), "video/") || c.String() == "unknown" {
			t.Errorf("%d: incomplete description", c)
		}
	}
}

func FuzzSniff(f *testing.F) {
	for _, tc := range sniffCases {
		f.Add(tc.head)
	}
	f.Fuzz(func(t *testing.T, head []byte) {
		c, err := Sniff(head)
		if (c == Unknown) != (err != nil) {
			t.Fatalf("container %v with error %v", c, err)
		}
	})
}

var faststartCases = []struct {
	name    string
	in      []byte
	rewrite bool
	err     error
}{
	{"moov last stco", mp4MoovLast("stco"), true, nil},
	{"moov last co64", mp4MoovLast("co64"), true, nil},
	{"moov first", bytes.Join([][]byte{ftyp, moovWith(stco("stco", 200)), box("mdat", make([]byte, 64))}, nil), false, nil},
	{"free boxes and two mdats", func() []byte {
		mdat1 := box("mdat", bytes.Repeat([]byte("x"), 30))
		free := box("free", make([]byte, 10))
		mdat2 := box("mdat", bytes.Repeat([]byte("y"), 30))
		o1 := uint64(len(ftyp) + len(free) + 8)
		o2 := o1 + 30 + uint64(len(mdat2)-30)
		return bytes.Join([][]byte{ftyp, free, mdat1, mdat2, moovWith(stco("stco", o1, o2)), box("udta", []byte("tail"))}, nil)
	}(), true, nil},
	{"large mdat and moov headers", func() []byte {
		mdat := largeBox("mdat", bytes.Repeat([]byte("z"), 50))
		o := uint64(len(ftyp) + 16)
		return bytes.Join([][]byte{ftyp, mdat, largeBox("moov", box("trak", box("mdia", box("minf", box("stbl", stco("stco", o, o+10))))))}, nil)
	}(), true, nil},
	{"fragmented left alone", bytes.Join([][]byte{ftyp, box("mdat", make([]byte, 8)), box("moof", make([]byte, 8)), moovWith()}, nil), false, nil},
	{"no moov", bytes.Join([][]byte{ftyp, box("mdat", make([]byte, 8))}, nil), false, ErrMalformed},
	{"two moovs", bytes.Join([][]byte{ftyp, moovWith(), moovWith()}, nil), false, ErrMalformed},
	{"truncated", mp4MoovLast("stco")[:100], false, ErrMalformed},
	{"box overruns file", append(ftyp, 0, 0, 1, 0, 'm', 'd', 'a', 't'), false, ErrMalformed},
	{"stray bytes", append(mp4MoovLast("stco"), 1, 2, 3), false, ErrMalformed},
	{"stco count lies", bytes.Join([][]byte{ftyp, box("mdat", make([]byte, 8)),
		box("moov", box("trak", box("mdia", box("minf", box("stbl", box("stco", []byte{0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}))))))}, nil), false, ErrMalformed},
	{"offset inside moov", func() []byte {
		mdat := box("mdat", make([]byte, 8))
		o := uint64(len(ftyp) + len(mdat) + 10)
		return bytes.Join([][]byte{ftyp, mdat, moovWith(stco("stco", o))}, nil)
	}(), false, ErrMalformed},
}

func TestFaststart(t *testing.T) {
	t.Parallel()
	for _, tc := range faststartCases {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			rewritten, n, err := Faststart(&out, bytes.NewReader(tc.in), int64(len(tc.in)))
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rewritten != tc.rewrite || n != int64(out.Len()) {
				t.Fatalf("rewritten=%v n=%d len=%d", rewritten, n, out.Len())
			}
			if !rewritten && !bytes.Equal(out.Bytes(), tc.in) {
				t.Fatal("unchanged file was modified")
			}
			checkFaststart(t, tc.in, out.Bytes())
		})
	}
}

// TestFaststartWidensOffsets moves a moov in front of an mdat that ends past
// 4 GiB (a sparse reader), so 32-bit offsets overflow and must become co64.
func TestFaststartWidensOffsets(t *testing.T) {
	t.Parallel()
	const mdatSize = 1<<32 - 64
	head := append([]byte(nil), ftyp...)
	head = binary.BigEndian.AppendUint32(head, 1)
	head = append(head, "mdat"...)
	head = binary.BigEndian.AppendUint64(head, mdatSize)
	mdatOff := uint64(len(ftyp))
	last := mdatOff + mdatSize - 16 // a chunk near the end: fits in 32 bits before the move
	moov := moovWith(stco("stco", mdatOff+16, last))
	size := int64(mdatOff) + mdatSize + int64(len(moov))
	r := sparse{head: head, tail: moov, size: size}
	l, err := PlanFaststart(r, size)
	if err != nil {
		t.Fatal(err)
	}
	if !l.NeedsRewrite() || l.Size() != size+8 { // one table of two entries grows 4 bytes each
		t.Fatalf("rewrite=%v size=%d, want %d", l.NeedsRewrite(), l.Size(), size+8)
	}
	var newMoov []byte
	for _, s := range l.segments {
		if s.data != nil {
			newMoov = s.data
		}
	}
	tree, err := parseTree("moov", false, newMoov[8:], 0)
	if err != nil {
		t.Fatal(err)
	}
	var got [][]uint64
	tree.walkOffsets(func(n *node) {
		if n.typ != "co64" {
			t.Errorf("table %s not widened", n.typ)
		}
		got = append(got, n.offsets)
	})
	ms := uint64(len(newMoov))
	if len(got) != 1 || got[0][0] != mdatOff+16+ms || got[0][1] != last+ms {
		t.Fatalf("offsets %v, moov %d", got, ms)
	}
}

// sparse is a reader of a huge file that is zero except at both ends.
type sparse struct {
	head, tail []byte
	size       int64
}

func (s sparse) ReadAt(p []byte, off int64) (int, error) {
	for i := range p {
		o := off + int64(i)
		switch {
		case o < int64(len(s.head)):
			p[i] = s.head[o]
		case o >= s.size-int64(len(s.tail)) && o < s.size:
			p[i] = s.tail[o-(s.size-int64(len(s.tail)))]
		default:
			p[i] = 0
		}
	}
	return len(p), nil
}

// checkFaststart verifies out is in against the faststart contract: moov
// before the first mdat, the same mdat payloads in the same order, and
// every chunk offset pointing at the same bytes as before.
func checkFaststart(t *testing.T, in, out []byte) {
	t.Helper()
	inBoxes, err := TopLevelBoxes(bytes.NewReader(in), int64(len(in)))
	if err != nil {
		t.Fatalf("input: %v", err)
	}
	outBoxes, err := TopLevelBoxes(bytes.NewReader(out), int64(len(out)))
	if err != nil {
		t.Fatalf("output is not a valid box sequence: %v", err)
	}
	payloads := func(data []byte, boxes []Box) (mdats [][]byte, moov *Box, firstMdat int) {
		firstMdat = -1
		for i, b := range boxes {
			switch b.Type {
			case "mdat":
				mdats = append(mdats, data[b.Offset+b.Header:b.End()])
				if firstMdat < 0 {
					firstMdat = i
				}
			case "moov":
				moov = &boxes[i]
			}
		}
		return
	}
	inMdats, inMoov, _ := payloads(in, inBoxes)
	outMdats, outMoov, outFirst := payloads(out, outBoxes)
	if len(inMdats) != len(outMdats) {
		t.Fatalf("%d mdats, want %d", len(outMdats), len(inMdats))
	}
	for i := range inMdats {
		if !bytes.Equal(inMdats[i], outMdats[i]) {
			t.Fatalf("mdat %d payload changed", i)
		}
	}
	if outMoov == nil {
		t.Fatal("no moov in output")
	}
	fragmented := false
	for _, b := range inBoxes {
		fragmented = fragmented || b.Type == "moof"
	}
	if outFirst >= 0 && outBoxes[outFirst].Offset < outMoov.Offset && !fragmented {
		t.Fatal("moov still after mdat")
	}
	tables := func(data []byte, m *Box) [][]uint64 {
		tree, err := parseTree("moov", m.Header == 16, data[m.Offset+m.Header:m.End()], 0)
		if err != nil {
			t.Fatalf("parse moov: %v", err)
		}
		var all [][]uint64
		tree.walkOffsets(func(n *node) { all = append(all, n.offsets) })
		return all
	}
	inT, outT := tables(in, inMoov), tables(out, outMoov)
	if len(inT) != len(outT) {
		t.Fatalf("%d offset tables, want %d", len(outT), len(inT))
	}
	for i := range inT {
		for j, o := range inT[i] {
			n := outT[i][j]
			if o+4 <= uint64(len(in)) && (n+4 > uint64(len(out)) || !bytes.Equal(in[o:o+4], out[n:n+4])) {
				t.Fatalf("table %d entry %d: offset %d→%d points at different bytes", i, j, o, n)
			}
		}
	}
}

// FuzzFaststart checks that no input makes the parser panic, and that every
// accepted input is rewritten into a valid MP4 with the same media bytes.
func FuzzFaststart(f *testing.F) {
	for _, tc := range faststartCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var out bytes.Buffer
		_, n, err := Faststart(&out, bytes.NewReader(in), int64(len(in)))
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if n != int64(out.Len()) {
			t.Fatalf("reported %d bytes, wrote %d", n, out.Len())
		}
		checkFaststart(t, in, out.Bytes())
	})
}

func TestMoovBoxBudget(t *testing.T) {
	t.Parallel()
	many := bytes.Repeat(box("free"), maxMoovBoxes+1)
	in := bytes.Join([][]byte{ftyp, box("mdat", make([]byte, 8)), box("moov", many)}, nil)
	if _, err := PlanFaststart(bytes.NewReader(in), int64(len(in))); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v", err)
	}
}
