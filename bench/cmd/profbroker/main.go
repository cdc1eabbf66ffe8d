// Command profbroker runs a Sluice broker in-process with Go's pprof
// handlers on -pprof, for profiling the broker under a perf workload (the
// server's own http.pprof.enable serves the same once it is wired). Settings
// are --set key=value as for `sluice server`.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"

	"github.com/sluicehq/sluice/internal/broker"
	"github.com/sluicehq/sluice/internal/config"
)

type sets []string

func (s *sets) String() string     { return strings.Join(*s, ",") }
func (s *sets) Set(v string) error { *s = append(*s, v); return nil }

func main() {
	var kv sets
	flag.Var(&kv, "set", "key=value broker setting, repeatable")
	pprofAddr := flag.String("pprof", "127.0.0.1:6060", "address of the pprof handlers")
	flag.Parse()
	runtime.SetMutexProfileFraction(100)
	runtime.SetBlockProfileRate(100000)
	cfg, _, err := config.Load("", kv, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	go func() {
		if err := http.ListenAndServe(*pprofAddr, nil); err != nil {
			fmt.Fprintln(os.Stderr, "pprof:", err)
		}
	}()
	b, err := broker.New(cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := b.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
