package main

import (
	"encoding/json"
	"os"
	"sync"
)

// executionRecorder appends one JSON line per tool execution to the --log file. Each line is
// written (and the file closed) before the tool answers, so the log never lags behind the results
// a client has seen; O_APPEND keeps lines whole when the harness truncates the file between cases.
type executionRecorder struct {
	path string
}

var recordLock sync.Mutex

func (r executionRecorder) record(tool string, arguments any) error {
	line, err := json.Marshal(struct {
		SDK       string `json:"sdk"`
		Tool      string `json:"tool"`
		Arguments any    `json:"arguments"`
	}{sdkName, tool, arguments})
	if err != nil {
		return err
	}
	recordLock.Lock()
	defer recordLock.Unlock()
	file, err := os.OpenFile(r.path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := file.Write(append(line, '\n')); err != nil {
		file.Close()
		return err
	}
	return file.Close()
}
