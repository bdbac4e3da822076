//go:build js && wasm

package jsutil

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall/js"
)

// Await waits for a JavaScript promise and returns its value, or its
// rejection as an error.
func Await(ctx context.Context, promise js.Value) (js.Value, error) {
	type result struct {
		v   js.Value
		err error
	}
	ch := make(chan result, 1)
	var then, catch js.Func
	then = js.FuncOf(func(_ js.Value, args []js.Value) any {
		ch <- result{v: arg0(args)}
		return nil
	})
	catch = js.FuncOf(func(_ js.Value, args []js.Value) any {
		ch <- result{err: JSError(arg0(args))}
		return nil
	})
	defer then.Release()
	defer catch.Release()
	promise.Call("then", then, catch)
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		// then/catch must outlive the promise; wait for it before releasing.
		<-ch
		return js.Undefined(), ctx.Err()
	}
}

func arg0(args []js.Value) js.Value {
	if len(args) == 0 {
		return js.Undefined()
	}
	return args[0]
}

// Error is a thrown JavaScript Error or DOMException: Name is its name
// ("NotFoundError", "QuotaExceededError", ...), Message its message.
type Error struct{ Name, Message string }

func (e *Error) Error() string {
	if e.Name == "" || e.Name == "Error" {
		return e.Message
	}
	return e.Name + ": " + e.Message
}

// JSError converts a thrown JavaScript value to a Go error: an *Error
// for an Error object.
func JSError(v js.Value) error {
	if v.Type() == js.TypeObject && v.Get("message").Type() == js.TypeString {
		e := &Error{Message: v.Get("message").String()}
		if n := v.Get("name"); n.Type() == js.TypeString {
			e.Name = n.String()
		}
		return e
	}
	return fmt.Errorf("javascript error: %s", v.Call("toString").String())
}

// IsName reports whether err is a JavaScript error named name.
func IsName(err error, name string) bool {
	var e *Error
	return errors.As(err, &e) && e.Name == name
}

// Promise runs f on a new goroutine and returns a JavaScript promise for
// its result. A panic in f rejects the promise.
func Promise(f func() (any, error)) js.Value {
	var executor js.Func
	executor = js.FuncOf(func(_ js.Value, args []js.Value) any {
		resolve, reject := args[0], args[1]
		executor.Release()
		go func() {
			defer func() {
				if r := recover(); r != nil {
					reject.Invoke(NewError(fmt.Sprintf("panic: %v", r)))
				}
			}()
			v, err := f()
			if err != nil {
				reject.Invoke(NewError(err.Error()))
				return
			}
			resolve.Invoke(v)
		}()
		return nil
	})
	return js.Global().Get("Promise").New(executor)
}

// NewError returns a JavaScript Error.
func NewError(msg string) js.Value { return js.Global().Get("Error").New(msg) }

// Func wraps a synchronous Go function for JavaScript, turning a panic
// into a thrown Error. f must not block.
func Func(f func(args []js.Value) any) js.Func {
	return js.FuncOf(func(_ js.Value, args []js.Value) (out any) {
		defer func() {
			if r := recover(); r != nil {
				js.Global().Get("console").Call("error", fmt.Sprintf("swarmtube: panic: %v", r))
				out = NewError(fmt.Sprintf("panic: %v", r))
			}
		}()
		return f(args)
	})
}

// Bytes copies a Uint8Array (or ArrayBuffer) into Go.
func Bytes(v js.Value) []byte {
	if v.Type() != js.TypeObject {
		return nil
	}
	if v.Get("constructor").Get("name").String() != "Uint8Array" {
		v = js.Global().Get("Uint8Array").New(v)
	}
	b := make([]byte, v.Length())
	js.CopyBytesToGo(b, v)
	return b
}

// Uint8Array copies b into a new Uint8Array.
func Uint8Array(b []byte) js.Value {
	a := js.Global().Get("Uint8Array").New(len(b))
	js.CopyBytesToJS(a, b)
	return a
}

// BlobReader reads a Blob (a File) at offsets through Blob.slice and
// arrayBuffer(). It is an io.ReaderAt, safe for concurrent use.
type BlobReader struct {
	Blob js.Value
	Size int64
}

// NewBlobReader returns a reader for blob.
func NewBlobReader(blob js.Value) *BlobReader {
	return &BlobReader{Blob: blob, Size: int64(blob.Get("size").Float())}
}

// ReadAt implements io.ReaderAt.
func (r *BlobReader) ReadAt(p []byte, off int64) (int, error) {
	if off >= r.Size {
		return 0, io.EOF
	}
	end := min(r.Size, off+int64(len(p)))
	buf, err := Await(context.Background(), r.Blob.Call("slice", off, end).Call("arrayBuffer"))
	if err != nil {
		return 0, fmt.Errorf("read blob at %d: %w", off, err)
	}
	n := js.CopyBytesToGo(p, js.Global().Get("Uint8Array").New(buf))
	if int64(n) < int64(len(p)) {
		return n, io.EOF
	}
	return n, nil
}

// SubtleSHA1 hashes data with the browser's SubtleCrypto, about five times
// faster than Go's SHA-1 compiled to wasm.
func SubtleSHA1(ctx context.Context, data []byte) ([20]byte, error) {
	var sum [20]byte
	subtle := js.Global().Get("crypto").Get("subtle")
	if subtle.IsUndefined() {
		return sum, errors.New("SubtleCrypto unavailable (not a secure context)")
	}
	digest, err := Await(ctx, subtle.Call("digest", "SHA-1", Uint8Array(data)))
	if err != nil {
		return sum, fmt.Errorf("SubtleCrypto digest: %w", err)
	}
	js.CopyBytesToGo(sum[:], js.Global().Get("Uint8Array").New(digest))
	return sum, nil
}
