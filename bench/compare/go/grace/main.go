// The benchmark's hello-world handler served with facebookgo/grace, for
// `npm run bench:compare`: gracehttp restarts on SIGUSR2 (it starts a new
// copy of this binary with the listening socket in LISTEN_FDS; the new process
// sends SIGTERM to its parent once it serves) and stops on SIGTERM/SIGINT.
// Every process prints one JSON line {"event":"ready","pid":…,"port":…} on
// stdout when it starts accepting.
//
// Built by bench/compare/run.js with Debian's golang-github-facebookgo-grace-dev:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o grace-hello .
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/facebookgo/grace/gracehttp"
)

func hello(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/sleep" {
		ms, _ := strconv.Atoi(r.URL.Query().Get("duration"))
		if ms > 60000 {
			ms = 60000
		}
		if ms > 0 {
			time.Sleep(time.Duration(ms) * time.Millisecond)
		}
		fmt.Fprint(w, "slept\n")
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprint(w, "hello world\n")
}

func main() {
	logger := log.New(os.Stderr, fmt.Sprintf("grace[%d]: ", os.Getpid()), 0)
	server := &http.Server{
		Addr:    "127.0.0.1:" + os.Getenv("PORT"),
		Handler: http.HandlerFunc(hello),
		// gracehttp has no "serving" hook; net/http calls BaseContext from
		// Serve with the listener it is about to accept on, which is the
		// moment this process serves (inherited socket or a new one).
		BaseContext: func(ln net.Listener) context.Context {
			line, _ := json.Marshal(map[string]any{"event": "ready", "pid": os.Getpid(), "port": ln.Addr().(*net.TCPAddr).Port})
			os.Stdout.Write(append(line, '\n'))
			return context.Background()
		},
	}
	if err := gracehttp.Serve(server); err != nil {
		logger.Fatal(err)
	}
}
