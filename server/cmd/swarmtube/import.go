package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/httpx"
)

// importOptions are the arguments of `swarmtube import`.
type importOptions struct {
	Pod, User, Password, Name, Description, File string
}

// runImport implements `swarmtube import --pod URL --user U --password P
// --name N [--description D] FILE`: it logs in to the pod and uploads FILE
// through the same API (and so the same checks, faststart and hashing) as
// any upload, then prints the video as JSON. The password may instead come
// from SWARMTUBE_PASSWORD, which keeps it out of the process list.
func runImport(args []string) error {
	var o importOptions
	fs := flag.NewFlagSet("swarmtube import", flag.ContinueOnError)
	fs.StringVar(&o.Pod, "pod", "http://localhost:9000", "base URL of the pod")
	fs.StringVar(&o.User, "user", "admin", "user to upload as (needs the upload right)")
	fs.StringVar(&o.Password, "password", "", "the user's password (default $SWARMTUBE_PASSWORD)")
	fs.StringVar(&o.Name, "name", "", "name of the video (required)")
	fs.StringVar(&o.Description, "description", "", "description of the video")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: swarmtube import --pod URL --user U --password P --name N [--description D] FILE")
		fs.PrintDefaults()
	}
	files, err := parseInterspersed(fs, args) // flags before or after FILE
	if err != nil {
		return err
	}
	if len(files) != 1 {
		fs.Usage()
		return errors.New("import: give exactly one video file")
	}
	o.File = files[0]
	if o.Password == "" {
		o.Password = os.Getenv("SWARMTUBE_PASSWORD")
	}
	if o.Name == "" {
		return errors.New("import: --name is required")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	v, err := importVideo(ctx, http.DefaultClient, o)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// importVideo logs in and uploads o.File as a multipart form, streaming it
// from disk.
func importVideo(ctx context.Context, client *http.Client, o importOptions) (api.Video, error) {
	base := strings.TrimRight(o.Pod, "/")
	if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return api.Video{}, fmt.Errorf("import: --pod %q is not an http(s) URL", o.Pod)
	}
	f, err := os.Open(o.File)
	if err != nil {
		return api.Video{}, fmt.Errorf("import: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return api.Video{}, fmt.Errorf("import: %s is not a regular file", o.File)
	}

	var tok api.Token
	creds, _ := json.Marshal(api.Credentials{Username: o.User, Password: o.Password})
	if err := call(ctx, client, "POST", base+"/api/v1/users/token", "application/json", strings.NewReader(string(creds)), &tok); err != nil {
		return api.Video{}, fmt.Errorf("import: log in as %s: %w", o.User, err)
	}

	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	written := make(chan struct{})
	go func() { // owned by this call, which waits for it below
		defer close(written)
		err := func() error {
			for _, kv := range [][2]string{{"name", o.Name}, {"description", o.Description}} {
				if err := mw.WriteField(kv[0], kv[1]); err != nil {
					return err
				}
			}
			part, err := mw.CreateFormFile("file", filepath.Base(o.File))
			if err != nil {
				return err
			}
			if _, err := io.Copy(part, f); err != nil {
				return err
			}
			return mw.Close()
		}()
		pw.CloseWithError(err)
	}()
	var v api.Video
	err = callAuth(ctx, client, "POST", base+"/api/v1/videos", mw.FormDataContentType(), pr, tok.Token, &v)
	pr.CloseWithError(errors.New("request done")) // unblocks the writer if the request ended early
	<-written
	if err != nil {
		return api.Video{}, fmt.Errorf("import: upload %s: %w", o.File, err)
	}
	return v, nil
}

func call(ctx context.Context, client *http.Client, method, url, contentType string, body io.Reader, out any) error {
	return callAuth(ctx, client, method, url, contentType, body, "", out)
}

// callAuth sends a request and decodes a 2xx JSON answer into out, or
// turns the API's error body into an error.
func callAuth(ctx context.Context, client *http.Client, method, url, contentType string, body io.Reader, token string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", contentType)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		var op *net.OpError
		var dns *net.DNSError
		if errors.As(err, &op) || errors.As(err, &dns) {
			// In words, not Go's `Post "…": dial tcp …: connect: …`.
			return fmt.Errorf("cannot reach the pod: %s", httpx.UserText(err))
		}
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		var e api.Error
		if json.Unmarshal(data, &e) == nil && e.Message != "" {
			return fmt.Errorf("%s (%s, HTTP %d)", e.Message, e.Error, resp.StatusCode)
		}
		return fmt.Errorf("HTTP %s", resp.Status)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	return nil
}
