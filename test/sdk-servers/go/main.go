// The differential fuzzer's Go MCP server: the official go-sdk, Streamable HTTP in stateless mode.
// See ../README.md for the contract.
//
//	sdk-server-go --port P --log FILE
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	port := flag.Int("port", 0, "TCP port on 127.0.0.1")
	logPath := flag.String("log", "", "file that receives one JSON line per tool execution")
	flag.Parse()
	if *port <= 0 || *logPath == "" {
		fmt.Fprintln(os.Stderr, "usage: sdk-server-go --port P --log FILE")
		os.Exit(2)
	}
	if err := serve(*port, *logPath); err != nil {
		fmt.Fprintln(os.Stderr, "sdk-server-go:", err)
		os.Exit(1)
	}
}

func serve(port int, logPath string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		// The harness holds our stdin; EOF means it is gone, and so must we be (no orphans).
		_, _ = io.Copy(io.Discard, os.Stdin)
		stop()
	}()

	listener, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/mcp", mcpHandler(executionRecorder{path: logPath}))
	server := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}

	served := make(chan error, 1)
	go func() { served <- server.Serve(listener) }()
	// The socket listens already, so the ready line is true as soon as it is printed.
	ready, _ := json.Marshal(map[string]string{"url": fmt.Sprintf("http://127.0.0.1:%d/mcp", port)})
	fmt.Println(string(ready))

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
		shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := server.Shutdown(shutdown); err != nil {
			return server.Close()
		}
		return nil
	}
}
