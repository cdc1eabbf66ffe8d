// Command kfake runs franz-go's in-memory fake Kafka cluster (one broker) on
// a port until SIGINT or SIGTERM: the peer "same client, same protocol,
// no disk" for bench/run.sh.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	port := flag.Int("port", 9193, "port to listen on (127.0.0.1)")
	parts := flag.Int("partitions", 3, "default partitions of a created topic")
	flag.Parse()
	c, err := kfake.NewCluster(kfake.Ports(*port), kfake.NumBrokers(1), kfake.DefaultNumPartitions(*parts), kfake.AllowAutoTopicCreation())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("kfake listening on", c.ListenAddrs())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	c.Close()
}
