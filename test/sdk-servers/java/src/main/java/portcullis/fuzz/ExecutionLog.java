package portcullis.fuzz;

import io.modelcontextprotocol.json.McpJsonMapper;
import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/** The execution log the fuzzer compares with the sidecar's audit trail: one JSON line per tool run. */
final class ExecutionLog {

	private final McpJsonMapper json;

	// Append mode: a harness truncating the file between cases never leaves a hole before our line.
	// FileOutputStream is unbuffered, so a written line is in the file when write() returns.
	private final FileOutputStream file;

	ExecutionLog(McpJsonMapper json, String path) throws IOException {
		this.json = json;
		this.file = new FileOutputStream(path, true);
	}

	/** Records one execution of {@code tool} with the arguments exactly as its handler received them. */
	synchronized void record(String tool, Map<String, Object> arguments) throws IOException {
		Map<String, Object> entry = new LinkedHashMap<>();
		entry.put("sdk", "java");
		entry.put("tool", tool);
		entry.put("arguments", arguments);
		// One write per line keeps lines whole when tool calls run concurrently.
		file.write((json.writeValueAsString(entry) + "\n").getBytes(StandardCharsets.UTF_8));
		file.flush();
	}

}
