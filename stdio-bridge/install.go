package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// The init container of a stdio server's pod runs
//
//	portcullis-stdio-bridge install /portcullis/bridge/portcullis-stdio-bridge
//
// so the image needs no `cp` (nor a shell): the bridge copies its own executable into the shared volume.
// The copy is atomic: a temporary file in the destination's directory, made executable (0755 whatever the
// umask), synced, then renamed over DEST. A server container never sees a half-written bridge.

// installError names the step that failed, so a pod's init container log says what to fix.
type installError struct {
	step string // "locate", "read", "create", "write", "chmod", "sync", "rename"
	path string
	err  error
}

func (e *installError) Error() string {
	return fmt.Sprintf("install: %s %s: %v", e.step, e.path, e.err)
}

func (e *installError) Unwrap() error { return e.err }

func install(dest string) (err error) {
	self, err := executable()
	if err != nil {
		return &installError{"locate", "own executable", err}
	}
	source, err := os.Open(self)
	if err != nil {
		return &installError{"read", self, err}
	}
	defer source.Close()

	temp, err := os.CreateTemp(filepath.Dir(dest), "."+filepath.Base(dest)+".tmp-*")
	if err != nil {
		return &installError{"create", filepath.Dir(dest), err}
	}
	defer func() {
		if err != nil {
			_ = temp.Close()
			_ = os.Remove(temp.Name())
		}
	}()
	if _, err := io.Copy(temp, source); err != nil {
		return &installError{"write", temp.Name(), err}
	}
	if err := temp.Chmod(0o755); err != nil {
		return &installError{"chmod", temp.Name(), err}
	}
	if err := temp.Sync(); err != nil {
		return &installError{"sync", temp.Name(), err}
	}
	if err := temp.Close(); err != nil {
		return &installError{"write", temp.Name(), err}
	}
	if err := os.Rename(temp.Name(), dest); err != nil {
		return &installError{"rename", dest, err}
	}
	return nil
}

// executable is os.Executable (/proc/self/exe); without /proc (a bare chroot) the absolute path we were
// started by, as a pod's command gives it.
func executable() (string, error) {
	self, err := os.Executable()
	if err == nil {
		return self, nil
	}
	if filepath.IsAbs(os.Args[0]) {
		return os.Args[0], nil
	}
	return "", err
}

// runInstall is the `install DEST` subcommand: exit 0 installed, 1 failed, 2 usage.
func runInstall(args []string) int {
	if len(args) != 1 || args[0] == "" {
		fmt.Fprintln(os.Stderr, "usage: portcullis-stdio-bridge install DEST")
		return 2
	}
	if err := install(args[0]); err != nil {
		fmt.Fprintf(os.Stderr, "portcullis-stdio-bridge: %v\n", err)
		return 1
	}
	return 0
}
