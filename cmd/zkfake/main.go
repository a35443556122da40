// Command zkfake is a do-nothing ZooKeeper server: it speaks the client
// protocol but answers every request with a fixed reply and keeps no state.
// Its throughput under zkbench is the ceiling of the load generator plus the
// loopback network on this machine, against which zkserver's figures are read.
//
//	zkfake -addr 127.0.0.1:2199 -data-size 128
//
// ConnectRequest gets a fresh session id; getData answers -data-size bytes and
// a fixed Stat; exists, setData and create2 answer a fixed Stat; create answers
// the requested path; delete, sync, ping and closeSession succeed; watches are
// accepted and never fire. Other opcodes answer UNIMPLEMENTED. "ruok" on a new
// connection answers "imok".
package main

import (
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:2199", "listen address")
	dataSize := flag.Int("data-size", 128, "bytes of data returned by getData")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	f := New(*dataSize)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sig
		ln.Close()
	}()
	fmt.Fprintf(os.Stderr, "zkfake: listening on %s\n", ln.Addr())
	if err := f.Serve(ln); err != nil && !errors.Is(err, net.ErrClosed) {
		log.Fatal(err)
	}
}
