// Command enrich joins a stream of orders with a table of customers: each
// order is written out with its customer's name and tier as they were
// when the order was processed (a stream-table left join; orders of
// unknown customers go out with empty fields).
//
//	sluice topics create customers --partitions 4 --config cleanup.policy=compact
//	sluice topics create orders --partitions 4
//	sluice topics create orders-enriched --partitions 4
//	go run ./examples/enrich --brokers 127.0.0.1:9092
//	printf 'c1\t{"name":"Ann","tier":"gold"}\n' | sluice produce customers --property parse.key=true
//	printf 'o1\t{"customer":"c1","amount":12.5}\n' | sluice produce orders --property parse.key=true
//
// Orders are keyed by order id; the join needs them keyed by customer, so
// they are re-keyed and go through a repartition topic first, then keyed
// by order id again on the way out. Values are JSON.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/sluicehq/sluice/streams"
	"github.com/sluicehq/sluice/streams/serde"
)

// Order is a value of the orders topic.
type Order struct {
	Customer string  `json:"customer"`
	Amount   float64 `json:"amount"`
}

// Customer is a value of the customers topic.
type Customer struct {
	Name string `json:"name"`
	Tier string `json:"tier"`
}

// Enriched is a value of the output topic.
type Enriched struct {
	Order    string  `json:"order"`
	Customer string  `json:"customer"`
	Name     string  `json:"name"`
	Tier     string  `json:"tier"`
	Amount   float64 `json:"amount"`
}

// keyedOrder carries the order id through the re-keying.
type keyedOrder struct {
	ID string `json:"id"`
	Order
}

func main() {
	brokers := flag.String("brokers", "127.0.0.1:9092", "bootstrap servers, comma separated")
	appID := flag.String("app-id", "enrich", "application.id: the consumer group and internal topic prefix")
	stateDir := flag.String("state-dir", "./enrich-state", "state.dir: where the pebble stores live")
	orders := flag.String("orders", "orders", "topic of orders (key: order id, value: JSON Order)")
	customers := flag.String("customers", "customers", "topic of customers (key: customer id, value: JSON Customer)")
	output := flag.String("output", "orders-enriched", "topic of enriched orders (key: order id, value: JSON)")
	commit := flag.Duration("commit-interval", 30*time.Second, "commit.interval.ms")
	flag.Parse()

	b := streams.NewBuilder()
	custs := streams.Table[string, Customer](b, *customers,
		streams.WithValueSerde(serde.JSON[Customer]()), streams.WithStore("customers"))
	byID := streams.Stream[string, Order](b, []string{*orders}, streams.WithValueSerde(serde.JSON[Order]()))
	byCustomer := streams.Map(byID, func(id string, o Order) (string, keyedOrder) {
		return o.Customer, keyedOrder{ID: id, Order: o}
	}, streams.Named("by-customer"))
	joined := streams.LeftJoinTable(byCustomer, custs, func(o keyedOrder, c *Customer) Enriched {
		e := Enriched{Order: o.ID, Customer: o.Customer, Amount: o.Amount}
		if c != nil {
			e.Name, e.Tier = c.Name, c.Tier
		}
		return e
	}, streams.Named("with-customer"), streams.WithValueSerde(serde.JSON[keyedOrder]()))
	out := streams.SelectKey(joined, func(_ string, e Enriched) string { return e.Order }, streams.Named("by-order"))
	out.To(*output, streams.WithValueSerde(serde.JSON[Enriched]()))
	topo, err := b.Build()
	if err != nil {
		fail(err)
	}
	fmt.Print(topo.Describe())

	app, err := streams.NewApp(topo, streams.Config{
		ApplicationID:  *appID,
		Brokers:        strings.Split(*brokers, ","),
		StateDir:       *stateDir,
		CommitInterval: *commit,
		Logger:         slog.New(slog.NewTextHandler(os.Stderr, nil)),
	})
	if err != nil {
		fail(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := app.Run(ctx); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "enrich:", err)
	os.Exit(1)
}
