// Command nullbroker runs the null broker (internal/perf/nullbroker) on an
// address until SIGINT or SIGTERM: the client's ceiling for bench/run.sh.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/sluicehq/sluice/internal/perf/nullbroker"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:9192", "address to listen on")
	parts := flag.Int("partitions", 3, "partitions of a topic named before it is created")
	size := flag.Int("record-size", 1024, "record size of the batch fetches serve")
	per := flag.Int("batch-records", 16, "records in the batch fetches serve")
	flag.Parse()
	b, err := nullbroker.Listen(*addr, nullbroker.Config{Partitions: *parts, RecordSize: *size, BatchRecords: *per})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("null broker listening on", b.Addr())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := b.Serve(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
