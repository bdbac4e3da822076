//go:build js && wasm

package jsutil

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"syscall/js"

	"github.com/swarmtube/swarmtube/wasm/piecestore"
)

// The browser's persistent storage for verified pieces (package
// piecestore): the Origin Private File System, or IndexedDB where OPFS
// cannot write from a page (WHATWG File System: createWritable).
//
// OPFS layout, shared with engine.js (which only looks): directory
// "swarmtube-pieces", in it one directory per torrent (40 hex), holding
// "meta.json" and one file per piece, "p<index>". Each write goes through
// createWritable, which commits on close(): a piece is whole or absent.

const piecesDir = "swarmtube-pieces"

// OPFS is a piecestore.Backend on the Origin Private File System.
type OPFS struct{ root js.Value }

// OpenOPFS opens the pieces directory and checks, with a small probe
// file, that this context can write there.
func OpenOPFS(ctx context.Context) (*OPFS, error) {
	storage := js.Global().Get("navigator").Get("storage")
	if storage.IsUndefined() || storage.Get("getDirectory").Type() != js.TypeFunction {
		return nil, errors.New("no Origin Private File System in this browser")
	}
	top, err := Await(ctx, storage.Call("getDirectory"))
	if err != nil {
		return nil, fmt.Errorf("OPFS: %w", err)
	}
	root, err := Await(ctx, top.Call("getDirectoryHandle", piecesDir, createOpt()))
	if err != nil {
		return nil, fmt.Errorf("OPFS: %w", err)
	}
	o := &OPFS{root: root}
	if err := o.write(ctx, root, ".probe", []byte("ok")); err != nil {
		return nil, fmt.Errorf("OPFS cannot write here: %w", err)
	}
	return o, nil
}

func createOpt() js.Value {
	o := js.Global().Get("Object").New()
	o.Set("create", true)
	return o
}

// Kind implements piecestore.Backend.
func (o *OPFS) Kind() string { return "opfs" }

// names lists a directory's entries of the given kind ("file" or
// "directory").
func names(ctx context.Context, dir js.Value, kind string) ([]string, error) {
	it := dir.Call("entries")
	var out []string
	for {
		r, err := Await(ctx, it.Call("next"))
		if err != nil {
			return nil, err
		}
		if r.Get("done").Bool() {
			return out, nil
		}
		pair := r.Get("value")
		if pair.Index(1).Get("kind").String() == kind {
			out = append(out, pair.Index(0).String())
		}
	}
}

func notFound(err error, what string) error {
	if IsName(err, "NotFoundError") {
		return fmt.Errorf("%s: %w", what, piecestore.ErrNotFound)
	}
	return fmt.Errorf("%s: %w", what, err)
}

func (o *OPFS) dir(ctx context.Context, torrent string, create bool) (js.Value, error) {
	var opt any = js.Undefined()
	if create {
		opt = createOpt()
	}
	d, err := Await(ctx, o.root.Call("getDirectoryHandle", torrent, opt))
	if err != nil {
		return js.Value{}, notFound(err, torrent)
	}
	return d, nil
}

func (o *OPFS) read(ctx context.Context, dir js.Value, name string) ([]byte, error) {
	fh, err := Await(ctx, dir.Call("getFileHandle", name))
	if err != nil {
		return nil, notFound(err, name)
	}
	file, err := Await(ctx, fh.Call("getFile"))
	if err != nil {
		return nil, notFound(err, name)
	}
	buf, err := Await(ctx, file.Call("arrayBuffer"))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return Bytes(buf), nil
}

func (o *OPFS) write(ctx context.Context, dir js.Value, name string, data []byte) error {
	fh, err := Await(ctx, dir.Call("getFileHandle", name, createOpt()))
	if err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	w, err := Await(ctx, fh.Call("createWritable"))
	if err != nil {
		return fmt.Errorf("open %s: %w", name, err)
	}
	if _, err := Await(ctx, w.Call("write", Uint8Array(data))); err != nil {
		Await(context.Background(), w.Call("abort"))
		return fmt.Errorf("write %s: %w", name, err)
	}
	if _, err := Await(ctx, w.Call("close")); err != nil {
		return fmt.Errorf("commit %s: %w", name, err)
	}
	return nil
}

func remove(ctx context.Context, dir js.Value, name string, recursive bool) error {
	var opt any = js.Undefined()
	if recursive {
		o := js.Global().Get("Object").New()
		o.Set("recursive", true)
		opt = o
	}
	if _, err := Await(ctx, dir.Call("removeEntry", name, opt)); err != nil && !IsName(err, "NotFoundError") {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	return nil
}

// Torrents implements piecestore.Backend.
func (o *OPFS) Torrents(ctx context.Context) ([]string, error) {
	return names(ctx, o.root, "directory")
}

// ReadMeta implements piecestore.Backend.
func (o *OPFS) ReadMeta(ctx context.Context, torrent string) ([]byte, error) {
	d, err := o.dir(ctx, torrent, false)
	if err != nil {
		return nil, err
	}
	return o.read(ctx, d, "meta.json")
}

// WriteMeta implements piecestore.Backend.
func (o *OPFS) WriteMeta(ctx context.Context, torrent string, meta []byte) error {
	d, err := o.dir(ctx, torrent, true)
	if err != nil {
		return err
	}
	return o.write(ctx, d, "meta.json", meta)
}

// Pieces implements piecestore.Backend.
func (o *OPFS) Pieces(ctx context.Context, torrent string) ([]int, error) {
	d, err := o.dir(ctx, torrent, false)
	if errors.Is(err, piecestore.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	files, err := names(ctx, d, "file")
	if err != nil {
		return nil, err
	}
	var out []int
	for _, f := range files {
		if n, ok := strings.CutPrefix(f, "p"); ok {
			if i, err := strconv.Atoi(n); err == nil && i >= 0 {
				out = append(out, i)
			}
		}
	}
	return out, nil
}

// ReadPiece implements piecestore.Backend.
func (o *OPFS) ReadPiece(ctx context.Context, torrent string, index int) ([]byte, error) {
	d, err := o.dir(ctx, torrent, false)
	if err != nil {
		return nil, err
	}
	return o.read(ctx, d, "p"+strconv.Itoa(index))
}

// WritePiece implements piecestore.Backend.
func (o *OPFS) WritePiece(ctx context.Context, torrent string, index int, data []byte) error {
	d, err := o.dir(ctx, torrent, true)
	if err != nil {
		return err
	}
	return o.write(ctx, d, "p"+strconv.Itoa(index), data)
}

// DeletePiece implements piecestore.Backend.
func (o *OPFS) DeletePiece(ctx context.Context, torrent string, index int) error {
	d, err := o.dir(ctx, torrent, false)
	if errors.Is(err, piecestore.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return remove(ctx, d, "p"+strconv.Itoa(index), false)
}

// DeleteTorrent implements piecestore.Backend.
func (o *OPFS) DeleteTorrent(ctx context.Context, torrent string) error {
	return remove(ctx, o.root, torrent, true)
}

// IndexedDB is a piecestore.Backend on IndexedDB: database
// "swarmtube-pieces" with object stores "meta" (key: torrent) and
// "pieces" (key: [torrent, index]), values Uint8Arrays. engine.js looks
// for a video's key [torrent, 0] there too (its stored start).
type IndexedDB struct{ db js.Value }

// OpenIndexedDB opens (creating) the database.
func OpenIndexedDB(ctx context.Context) (*IndexedDB, error) {
	idb := js.Global().Get("indexedDB")
	if idb.IsUndefined() || idb.IsNull() {
		return nil, errors.New("no IndexedDB in this browser")
	}
	req := idb.Call("open", piecesDir, 1)
	upgrade := js.FuncOf(func(js.Value, []js.Value) any {
		db := req.Get("result")
		names := db.Get("objectStoreNames")
		if !names.Call("contains", "meta").Bool() {
			db.Call("createObjectStore", "meta")
		}
		if !names.Call("contains", "pieces").Bool() {
			db.Call("createObjectStore", "pieces")
		}
		return nil
	})
	defer upgrade.Release()
	req.Set("onupgradeneeded", upgrade)
	db, err := request(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("IndexedDB: %w", err)
	}
	return &IndexedDB{db: db}, nil
}

// request waits for an IDBRequest: its result, or its error.
func request(ctx context.Context, req js.Value) (js.Value, error) {
	type result struct {
		v   js.Value
		err error
	}
	ch := make(chan result, 1)
	ok := js.FuncOf(func(js.Value, []js.Value) any {
		ch <- result{v: req.Get("result")}
		return nil
	})
	fail := js.FuncOf(func(js.Value, []js.Value) any {
		ch <- result{err: JSError(req.Get("error"))}
		return nil
	})
	defer ok.Release()
	defer fail.Release()
	req.Set("onsuccess", ok)
	req.Set("onerror", fail)
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		<-ch // the handlers must outlive the request
		return js.Undefined(), ctx.Err()
	}
}

func (d *IndexedDB) store(name, mode string) js.Value {
	return d.db.Call("transaction", name, mode).Call("objectStore", name)
}

func key(torrent string, index int) js.Value {
	return js.ValueOf([]any{torrent, index})
}

// torrentRange is every piece key of a torrent.
func torrentRange(torrent string) js.Value {
	return js.Global().Get("IDBKeyRange").Call("bound", key(torrent, 0), js.ValueOf([]any{torrent, math.Inf(1)}))
}

// Kind implements piecestore.Backend.
func (d *IndexedDB) Kind() string { return "indexeddb" }

// Torrents implements piecestore.Backend.
func (d *IndexedDB) Torrents(ctx context.Context) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for _, st := range []string{"meta", "pieces"} {
		keys, err := request(ctx, d.store(st, "readonly").Call("getAllKeys"))
		if err != nil {
			return nil, err
		}
		for i := 0; i < keys.Length(); i++ {
			k := keys.Index(i)
			if k.Type() == js.TypeObject {
				k = k.Index(0)
			}
			if name := k.String(); !seen[name] {
				seen[name] = true
				out = append(out, name)
			}
		}
	}
	return out, nil
}

func (d *IndexedDB) get(ctx context.Context, st string, k any, what string) ([]byte, error) {
	v, err := request(ctx, d.store(st, "readonly").Call("get", k))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if v.IsUndefined() {
		return nil, fmt.Errorf("%s: %w", what, piecestore.ErrNotFound)
	}
	return Bytes(v), nil
}

func (d *IndexedDB) put(ctx context.Context, st string, k any, data []byte) error {
	_, err := request(ctx, d.store(st, "readwrite").Call("put", Uint8Array(data), k))
	return err
}

// ReadMeta implements piecestore.Backend.
func (d *IndexedDB) ReadMeta(ctx context.Context, torrent string) ([]byte, error) {
	return d.get(ctx, "meta", torrent, torrent)
}

// WriteMeta implements piecestore.Backend.
func (d *IndexedDB) WriteMeta(ctx context.Context, torrent string, meta []byte) error {
	return d.put(ctx, "meta", torrent, meta)
}

// Pieces implements piecestore.Backend.
func (d *IndexedDB) Pieces(ctx context.Context, torrent string) ([]int, error) {
	keys, err := request(ctx, d.store("pieces", "readonly").Call("getAllKeys", torrentRange(torrent)))
	if err != nil {
		return nil, err
	}
	out := make([]int, 0, keys.Length())
	for i := 0; i < keys.Length(); i++ {
		out = append(out, keys.Index(i).Index(1).Int())
	}
	return out, nil
}

// ReadPiece implements piecestore.Backend.
func (d *IndexedDB) ReadPiece(ctx context.Context, torrent string, index int) ([]byte, error) {
	return d.get(ctx, "pieces", key(torrent, index), fmt.Sprintf("piece %d", index))
}

// WritePiece implements piecestore.Backend.
func (d *IndexedDB) WritePiece(ctx context.Context, torrent string, index int, data []byte) error {
	return d.put(ctx, "pieces", key(torrent, index), data)
}

// DeletePiece implements piecestore.Backend.
func (d *IndexedDB) DeletePiece(ctx context.Context, torrent string, index int) error {
	_, err := request(ctx, d.store("pieces", "readwrite").Call("delete", key(torrent, index)))
	return err
}

// DeleteTorrent implements piecestore.Backend.
func (d *IndexedDB) DeleteTorrent(ctx context.Context, torrent string) error {
	if _, err := request(ctx, d.store("pieces", "readwrite").Call("delete", torrentRange(torrent))); err != nil {
		return err
	}
	_, err := request(ctx, d.store("meta", "readwrite").Call("delete", torrent))
	return err
}

// StorageEstimate returns navigator.storage.estimate()'s quota and usage
// in bytes (StorageManager, WHATWG Storage).
func StorageEstimate(ctx context.Context) (quota, usage int64, err error) {
	storage := js.Global().Get("navigator").Get("storage")
	if storage.IsUndefined() || storage.Get("estimate").Type() != js.TypeFunction {
		return 0, 0, errors.New("no StorageManager in this browser")
	}
	est, err := Await(ctx, storage.Call("estimate"))
	if err != nil {
		return 0, 0, err
	}
	return int64(est.Get("quota").Float()), int64(est.Get("usage").Float()), nil
}

// persistAnswer logs the browser's answer to RequestPersist (it lives as
// long as the page: the promise may settle at any time).
var persistAnswer = js.FuncOf(func(_ js.Value, args []js.Value) any {
	a := arg0(args)
	slog.Info("swarmtube: persistent storage asked", "granted", a.Type() == js.TypeBoolean && a.Bool())
	return nil
})

// RequestPersist asks the browser to keep this origin's storage under
// storage pressure (navigator.storage.persist(), WHATWG Storage: "best
// effort" becomes "persistent"), without waiting for the answer: Firefox
// asks the viewer, who may never answer; Chromium grants or denies at
// once by the site's engagement. Persisted reports the outcome. Nothing
// happens where the browser has no such call.
func RequestPersist() {
	storage := js.Global().Get("navigator").Get("storage")
	if storage.IsUndefined() || storage.Get("persist").Type() != js.TypeFunction {
		return
	}
	storage.Call("persist").Call("then", persistAnswer, persistAnswer)
}

// Persisted reports whether the browser has made this origin's storage
// persistent (navigator.storage.persisted()); false where it cannot say.
func Persisted(ctx context.Context) bool {
	storage := js.Global().Get("navigator").Get("storage")
	if storage.IsUndefined() || storage.Get("persisted").Type() != js.TypeFunction {
		return false
	}
	v, err := Await(ctx, storage.Call("persisted"))
	return err == nil && v.Type() == js.TypeBoolean && v.Bool()
}
