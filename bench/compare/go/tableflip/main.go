// The benchmark's hello-world handler served with cloudflare/tableflip, for
// `npm run bench:compare`: SIGHUP upgrades (a new copy of this binary gets the
// listening socket and says it is ready; then this process shuts its
// http.Server down and exits), SIGTERM/SIGINT stop. Each generation prints one
// JSON line {"event":"ready","pid":…,"port":…} on stdout once it serves.
//
// Built by bench/compare/run.js with Debian's golang-github-cloudflare-tableflip-dev:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o tableflip-hello .
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/cloudflare/tableflip"
)

// drainTimeout matches the Node rows (drainTimeout: 30_000).
const drainTimeout = 30 * time.Second

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
	logger := log.New(os.Stderr, fmt.Sprintf("tableflip[%d]: ", os.Getpid()), 0)
	addr := "127.0.0.1:" + os.Getenv("PORT")

	upg, err := tableflip.New(tableflip.Options{})
	if err != nil {
		logger.Fatal(err)
	}
	defer upg.Stop()

	// Upgrade on SIGHUP; Upgrade refuses while one runs or before this
	// generation is ready, and a failed one leaves this process serving.
	go func() {
		signals := make(chan os.Signal, 4)
		signal.Notify(signals, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
		for sig := range signals {
			if sig != syscall.SIGHUP {
				upg.Stop()
				return
			}
			if err := upg.Upgrade(); err != nil {
				logger.Printf("upgrade failed: %v", err)
			}
		}
	}()

	// The key is the address string: the next generation asks for the same one.
	ln, err := upg.Listen("tcp", addr)
	if err != nil {
		logger.Fatal(err)
	}
	server := &http.Server{Handler: http.HandlerFunc(hello)}
	go func() {
		if err := server.Serve(ln); err != nil && err != http.ErrServerClosed {
			logger.Print(err)
		}
	}()

	if err := upg.Ready(); err != nil {
		logger.Fatal(err)
	}
	line, _ := json.Marshal(map[string]any{"event": "ready", "pid": os.Getpid(), "port": ln.Addr().(*net.TCPAddr).Port})
	os.Stdout.Write(append(line, '\n'))

	// Closed after a successful Upgrade (the new generation serves) or Stop.
	<-upg.Exit()

	ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	if err := server.Shutdown(ctx); err != nil {
		logger.Printf("shutdown: %v", err)
	}
}
