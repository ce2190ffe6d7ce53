package portcullis.fuzz;

import io.modelcontextprotocol.json.McpJsonMapper;
import io.modelcontextprotocol.server.McpStatelessServerFeatures.SyncToolSpecification;
import io.modelcontextprotocol.spec.McpSchema.CallToolRequest;
import io.modelcontextprotocol.spec.McpSchema.CallToolResult;
import io.modelcontextprotocol.spec.McpSchema.Tool;
import io.modelcontextprotocol.spec.McpSchema.ToolAnnotations;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * The three tools every SDK server of the fuzzer exposes, declared the way an ordinary Java SDK
 * server does: a Tool with a JSON input schema and a call handler over the request's argument map.
 * The SDK validates the arguments against the schema before a handler runs (its default).
 */
final class FuzzTools {

	private final McpJsonMapper json;

	private final ExecutionLog log;

	FuzzTools(McpJsonMapper json, ExecutionLog log) {
		this.json = json;
		this.log = log;
	}

	List<SyncToolSpecification> all() {
		return List.of(
				tool("echo", "Returns its text", null, List.of("text"), arguments -> (String) arguments.get("text")),
				tool("get_invoice", "Returns one customer's invoice", null, List.of("customer_id", "invoice_id"),
						this::invoice),
				tool("send_email", "Sends an email", ToolAnnotations.builder().destructiveHint(true).build(),
						List.of("to", "body"), arguments -> "sent"));
	}

	private String invoice(Map<String, Object> arguments) {
		Map<String, Object> invoice = new LinkedHashMap<>();
		invoice.put("customer_id", arguments.get("customer_id"));
		invoice.put("invoice_id", arguments.get("invoice_id"));
		return write(invoice);
	}

	/** A tool whose input is an object of required string properties; the handler's text is its result. */
	private SyncToolSpecification tool(String name, String description, ToolAnnotations annotations,
			List<String> stringProperties, Function<Map<String, Object>, String> handler) {
		Map<String, Object> properties = new LinkedHashMap<>();
		for (String property : stringProperties) {
			properties.put(property, Map.of("type", "string"));
		}
		Map<String, Object> schema = new LinkedHashMap<>();
		schema.put("type", "object");
		schema.put("properties", properties);
		schema.put("required", stringProperties);
		Tool tool = Tool.builder()
			.name(name)
			.description(description)
			.inputSchema(schema)
			.annotations(annotations)
			.build();
		return new SyncToolSpecification(tool, (context, request) -> execute(name, request, handler));
	}

	/** Logs before answering: a call whose execution is not on record must not look successful. */
	private CallToolResult execute(String name, CallToolRequest request,
			Function<Map<String, Object>, String> handler) {
		Map<String, Object> arguments = request.arguments();
		try {
			log.record(name, arguments);
		}
		catch (IOException e) {
			throw new UncheckedIOException("execution log", e);
		}
		return CallToolResult.builder().addTextContent(handler.apply(arguments)).build();
	}

	private String write(Object value) {
		try {
			return json.writeValueAsString(value);
		}
		catch (IOException e) {
			throw new UncheckedIOException(e);
		}
	}

}
