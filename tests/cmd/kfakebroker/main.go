// Command kfakebroker runs franz-go's kfake Kafka cluster in its own process,
// so tests talk to Kafka over TCP as they would to a real broker. It is a
// test tool started by scripts/testenv.sh, not part of sluice.
//
// It prints one line "kfakebroker ready <addr>" once it accepts connections
// and shuts down cleanly on SIGTERM or SIGINT.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "kfakebroker: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "", "listen address host:port (overrides -port)")
	port := flag.Int("port", 0, "listen port on 127.0.0.1 (0 picks a free one)")
	partitions := flag.Int("partitions", 3, "partitions of auto-created topics")
	dataDir := flag.String("data-dir", "", "persist topics here instead of in memory")
	flag.Parse()

	host := "127.0.0.1"
	if *addr != "" {
		h, p, err := net.SplitHostPort(*addr)
		if err != nil {
			return fmt.Errorf("parse -addr %q: %w", *addr, err)
		}
		if *port, err = strconv.Atoi(p); err != nil {
			return fmt.Errorf("parse -addr %q: %w", *addr, err)
		}
		if h != "" {
			host = h
		}
	}

	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(*port),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(*partitions),
		// kfake always asks for 127.0.0.1; honour the host given in -addr.
		kfake.ListenFn(func(network, address string) (net.Listener, error) {
			_, p, err := net.SplitHostPort(address)
			if err != nil {
				return nil, err
			}
			return net.Listen(network, net.JoinHostPort(host, p))
		}),
	}
	if *dataDir != "" {
		opts = append(opts, kfake.DataDir(*dataDir))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return fmt.Errorf("start cluster: %w", err)
	}
	defer c.Close()

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	fmt.Printf("kfakebroker ready %s\n", c.ListenAddrs()[0])
	s := <-sig
	fmt.Printf("kfakebroker stopping on %v\n", s)
	return nil
}
