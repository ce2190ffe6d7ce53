package main

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

const sdkName = "go"

type echoInput struct {
	Text string `json:"text"`
}

type invoiceInput struct {
	CustomerID string `json:"customer_id"`
	InvoiceID  string `json:"invoice_id"`
}

type emailInput struct {
	To   string `json:"to"`
	Body string `json:"body"`
}

// mcpHandler serves the three tools of the contract, stateless: every POST gets a fresh temporary
// session, so a bare tools/call without initialize is served. The SDK's default localhost
// protection stays on; it accepts the Host 127.0.0.1:<port> the sidecar sends.
func mcpHandler(recorder executionRecorder) http.Handler {
	server := mcp.NewServer(&mcp.Implementation{Name: sdkName, Version: "1.0.0"}, nil)
	mcp.AddTool(server, &mcp.Tool{Name: "echo", Description: "Echoes text back."},
		func(_ context.Context, _ *mcp.CallToolRequest, in echoInput) (*mcp.CallToolResult, any, error) {
			if err := recorder.record("echo", in); err != nil {
				return nil, nil, err
			}
			return textResult(in.Text), nil, nil
		})
	mcp.AddTool(server, &mcp.Tool{Name: "get_invoice", Description: "Reads one invoice of one customer."},
		func(_ context.Context, _ *mcp.CallToolRequest, in invoiceInput) (*mcp.CallToolResult, any, error) {
			if err := recorder.record("get_invoice", in); err != nil {
				return nil, nil, err
			}
			invoice, err := json.Marshal(in)
			if err != nil {
				return nil, nil, err
			}
			return textResult(string(invoice)), nil, nil
		})
	destructive := true
	mcp.AddTool(server, &mcp.Tool{
		Name:        "send_email",
		Description: "Sends an email (pretends to).",
		Annotations: &mcp.ToolAnnotations{DestructiveHint: &destructive},
	}, func(_ context.Context, _ *mcp.CallToolRequest, in emailInput) (*mcp.CallToolResult, any, error) {
		if err := recorder.record("send_email", in); err != nil {
			return nil, nil, err
		}
		return textResult("sent"), nil, nil
	})
	return mcp.NewStreamableHTTPHandler(
		func(*http.Request) *mcp.Server { return server },
		&mcp.StreamableHTTPOptions{Stateless: true},
	)
}

func textResult(text string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: text}}}
}
