// Command app is the node process of noderoll's local demo and tests: a
// tiny HTTP service whose "image" is its version. It behaves the way real
// services behave when a patch is good or bad, so a rollout can be watched
// succeeding, failing its health checks, or crashing:
//
//	app --listen 127.77.0.5:8080 --version v2 --node-id web-1
//
// Versions:
//
//   - v1, v2 (and any other version not listed below): healthy. GET /healthz
//     answers 200 "ok version=v2".
//   - v3: starts and serves GET /, but GET /healthz answers 500
//     "dependency check failed" — the patch that boots fine and is broken,
//     which only a health check catches.
//   - v3-crash: exits with status 1 right after start ("config invalid") —
//     the patch that never comes up, which the cloud reports as a dead node.
//
// Flags make each failure mode available for any version: --fail-health,
// --crash-on-start, --slow-start=5s (sleep before listening: a slow boot),
// --ignore-sigterm (a process that must be killed). On SIGTERM or SIGINT the
// app stops accepting connections, finishes in-flight requests (bounded by
// --shutdown-timeout) and exits 0.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"html"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

type config struct {
	listen          string
	version         string
	nodeID          string
	failHealth      bool
	crashOnStart    bool
	slowStart       time.Duration
	ignoreSIGTERM   bool
	shutdownTimeout time.Duration
}

func parseFlags(args []string, out io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("app", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&c.listen, "listen", "127.0.0.1:8080", "address:port to serve on")
	fs.StringVar(&c.version, "version", "v1", "version (the node's image): v1, v2 healthy; v3 fails /healthz; v3-crash exits 1 on start")
	fs.StringVar(&c.nodeID, "node-id", "", "node name shown on / and in logs")
	fs.BoolVar(&c.failHealth, "fail-health", false, "answer 500 on /healthz whatever the version")
	fs.BoolVar(&c.crashOnStart, "crash-on-start", false, "exit 1 right after start whatever the version")
	fs.DurationVar(&c.slowStart, "slow-start", 0, "wait this long before listening (a slow boot)")
	fs.BoolVar(&c.ignoreSIGTERM, "ignore-sigterm", false, "ignore SIGTERM, so only SIGKILL stops the process")
	fs.DurationVar(&c.shutdownTimeout, "shutdown-timeout", 5*time.Second, "how long in-flight requests may take after SIGTERM")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	switch c.version {
	case "v3":
		c.failHealth = true
	case "v3-crash":
		c.crashOnStart = true
	}
	return c, nil
}

func run(args []string, logOut io.Writer) int {
	c, err := parseFlags(args, logOut)
	if err != nil {
		return 2
	}
	logger := log.New(logOut, "", log.LstdFlags)
	name := c.nodeID
	if name == "" {
		name = "-"
	}
	// Register before logging the start, so a SIGTERM sent by someone who saw
	// that line, or during a slow boot, is graceful.
	stop := make(chan os.Signal, 1)
	if c.ignoreSIGTERM {
		signal.Ignore(syscall.SIGTERM)
		signal.Notify(stop, syscall.SIGINT)
	} else {
		signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	}
	logger.Printf("start node=%s version=%s pid=%d", name, c.version, os.Getpid())
	if c.crashOnStart {
		logger.Printf("stop node=%s version=%s: config invalid, exiting with status 1", name, c.version)
		return 1
	}
	if c.slowStart > 0 {
		select {
		case <-time.After(c.slowStart):
		case s := <-stop:
			logger.Printf("stop node=%s version=%s: %v during boot", name, c.version, s)
			return 0
		}
	}

	ln, err := net.Listen("tcp", c.listen)
	if err != nil {
		logger.Printf("stop node=%s version=%s: %v", name, c.version, err)
		return 1
	}
	srv := &http.Server{Handler: handler(c), ReadHeaderTimeout: 10 * time.Second}
	logger.Printf("listening node=%s version=%s on %s", name, c.version, ln.Addr())

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		logger.Printf("stop node=%s version=%s: %v", name, c.version, err)
		return 1
	case s := <-stop:
		ctx, cancel := context.WithTimeout(context.Background(), c.shutdownTimeout)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			logger.Printf("stop node=%s version=%s: %v, in-flight requests cut after %v", name, c.version, err, c.shutdownTimeout)
			return 1
		}
		if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Printf("stop node=%s version=%s: %v", name, c.version, err)
			return 1
		}
		logger.Printf("stop node=%s version=%s: %v, drained", name, c.version, s)
		return 0
	}
}

func handler(c config) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if c.failHealth {
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprintf(w, "dependency check failed version=%s\n", c.version)
			return
		}
		fmt.Fprintf(w, "ok version=%s\n", c.version)
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		// ?delay= keeps a request in flight, to show (and test) that a
		// graceful stop lets it finish.
		if d, err := time.ParseDuration(r.URL.Query().Get("delay")); err == nil && d > 0 {
			select {
			case <-time.After(d):
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!doctype html><title>noderoll demo</title><h1>version %s</h1><p>node %s</p>\n",
			html.EscapeString(c.version), html.EscapeString(c.nodeID))
	})
	return mux
}
