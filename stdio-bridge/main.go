// portcullis-stdio-bridge runs a stdio MCP server and exposes its stdin/stdout on a Unix socket, so the
// Portcullis sidecar in another container of the same pod can reach it without an API server or a
// network port. It is static (CGO disabled) so it runs in any server image; an init container of the
// Portcullis image installs it into the pod's shared volume with its own `install` subcommand (install.go).
//
//	portcullis-stdio-bridge --socket /portcullis/bridge/stdio.sock -- node /app/server.js --stdio
//	portcullis-stdio-bridge install /portcullis/bridge/portcullis-stdio-bridge
//
// One client at a time: a new connection replaces the old one (the sidecar reconnects after a restart).
// Bytes pass through unchanged; the server's stderr stays the container's stderr. The bridge exits with
// the server's exit code, so the kubelet restarts the container when the server dies.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "install" {
		os.Exit(runInstall(os.Args[2:]))
	}
	socket := flag.String("socket", "", "path of the Unix socket to listen on")
	flag.Parse()
	command := flag.Args()
	if *socket == "" || len(command) == 0 {
		fmt.Fprintln(os.Stderr, "usage: portcullis-stdio-bridge --socket PATH -- COMMAND [ARGS...]\n       portcullis-stdio-bridge install DEST")
		os.Exit(2)
	}
	os.Exit(run(*socket, command))
}

func run(socket string, command []string) int {
	_ = os.Remove(socket)
	listener, err := net.Listen("unix", socket)
	if err != nil {
		fmt.Fprintf(os.Stderr, "portcullis-stdio-bridge: listen %s: %v\n", socket, err)
		return 1
	}
	defer listener.Close()
	// Group read-write: the sidecar runs as another UID and reaches the socket through the pod's fsGroup,
	// which owns this emptyDir (setgid, so the socket inherits the group). No one else mounts it.
	if err := os.Chmod(socket, 0o660); err != nil {
		fmt.Fprintf(os.Stderr, "portcullis-stdio-bridge: chmod %s: %v\n", socket, err)
		return 1
	}

	server := exec.Command(command[0], command[1:]...)
	server.Stderr = os.Stderr
	stdin, err := server.StdinPipe()
	if err != nil {
		return fail(err)
	}
	stdout, err := server.StdoutPipe()
	if err != nil {
		return fail(err)
	}
	if err := server.Start(); err != nil {
		return fail(err)
	}

	// Forward termination signals so the server can shut down cleanly.
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		for s := range signals {
			_ = server.Process.Signal(s)
		}
	}()

	var mu sync.Mutex
	var current net.Conn
	// Server output goes to whichever client is connected; with none connected it is dropped, as nobody
	// could be waiting for it (the sidecar sends a request before it expects an answer).
	go func() {
		buffer := make([]byte, 64*1024)
		for {
			n, err := stdout.Read(buffer)
			if n > 0 {
				mu.Lock()
				conn := current
				mu.Unlock()
				if conn != nil {
					_, _ = conn.Write(buffer[:n])
				}
			}
			if err != nil {
				return
			}
		}
	}()
	go func() {
		for {
			conn, err := listener.Accept()
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				continue
			}
			mu.Lock()
			if current != nil {
				_ = current.Close()
			}
			current = conn
			mu.Unlock()
			go func(c net.Conn) { _, _ = io.Copy(stdin, c) }(conn)
		}
	}()

	err = server.Wait()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode()
	}
	if err != nil {
		return fail(err)
	}
	return 0
}

func fail(err error) int {
	fmt.Fprintf(os.Stderr, "portcullis-stdio-bridge: %v\n", err)
	return 1
}
