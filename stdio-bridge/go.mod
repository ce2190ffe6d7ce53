module portcullis.dev/stdio-bridge

go 1.24
