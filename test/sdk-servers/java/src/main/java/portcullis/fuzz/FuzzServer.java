package portcullis.fuzz;

import io.modelcontextprotocol.json.McpJsonDefaults;
import io.modelcontextprotocol.json.McpJsonMapper;
import io.modelcontextprotocol.server.McpServer;
import io.modelcontextprotocol.server.transport.DefaultServerTransportSecurityValidator;
import io.modelcontextprotocol.server.transport.HttpServletStatelessServerTransport;
import io.modelcontextprotocol.spec.McpSchema.ServerCapabilities;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.stream.Stream;
import org.apache.catalina.Context;
import org.apache.catalina.Wrapper;
import org.apache.catalina.startup.Tomcat;

/**
 * {@code java -jar server.jar --port P --log FILE}: the Java SDK server of the differential fuzzer
 * (see launch.ts). Stateless Streamable HTTP on 127.0.0.1:P/mcp; prints {@code {"url":..}} once
 * listening; exits when stdin closes (the harness holds it open) or on SIGTERM.
 */
public final class FuzzServer {

	// Tomcat announces every start-up step at INFO on stderr; warnings are what a failing case needs.
	// Held in a field because java.util.logging keeps loggers weakly and would drop the level.
	private static final Logger TOMCAT_LOG = Logger.getLogger("org.apache");

	private FuzzServer() {
	}

	public static void main(String[] args) throws Exception {
		// The SDK logs every initialize at INFO; before its first logger exists, keep stderr to warnings.
		System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
		TOMCAT_LOG.setLevel(Level.WARNING);
		Flags flags = Flags.parse(args);
		McpJsonMapper json = McpJsonDefaults.getMapper();
		ExecutionLog log = new ExecutionLog(json, flags.log());

		// The SDK's stateless transport: each POST is one JSON-RPC exchange, no session or initialize.
		// Its default validator checks nothing; the SDK's own one, limited to loopback hosts and origins,
		// guards against DNS rebinding as rmcp does by default.
		HttpServletStatelessServerTransport transport = HttpServletStatelessServerTransport.builder()
			.jsonMapper(json)
			.messageEndpoint("/mcp")
			.securityValidator(DefaultServerTransportSecurityValidator.builder()
				.allowedHosts(List.of("127.0.0.1:*", "localhost:*"))
				.allowedOrigins(List.of("http://127.0.0.1:*", "http://localhost:*"))
				.build())
			.build();
		McpServer.sync(transport)
			.serverInfo("portcullis-fuzz-java", "0")
			.capabilities(ServerCapabilities.builder().tools(false).build())
			.tools(new FuzzTools(json, log).all())
			.build();

		Tomcat tomcat = embeddedTomcat(flags.port(), transport);
		tomcat.start();
		// Tomcat only logs a failed bind and carries on; with no port there must be no ready line.
		int port = tomcat.getConnector().getLocalPort();
		if (port <= 0) {
			System.err.println("mcp-fuzz-server: cannot listen on 127.0.0.1:" + flags.port());
			System.exit(1);
		}
		// The bound port, not the flag: build.sh's class-archive training run passes --port 0.
		System.out.println("{\"url\":\"http://127.0.0.1:" + port + "/mcp\"}");
		System.out.flush();
		exitWhenStdinCloses();
		tomcat.getServer().await();
	}

	private static Tomcat embeddedTomcat(int port, HttpServletStatelessServerTransport servlet) throws IOException {
		// Tomcat wants a scratch directory; it is ours alone and goes when the JVM does.
		Path baseDir = Files.createTempDirectory("portcullis-fuzz-tomcat-");
		Runtime.getRuntime().addShutdownHook(new Thread(() -> deleteTree(baseDir)));
		Tomcat tomcat = new Tomcat();
		tomcat.setBaseDir(baseDir.toString());
		tomcat.setPort(port);
		tomcat.getConnector().setProperty("address", "127.0.0.1");
		Context context = tomcat.addContext("", baseDir.toString());
		Wrapper wrapper = Tomcat.addServlet(context, "mcp", servlet);
		wrapper.setAsyncSupported(true);
		// Exact mapping: only /mcp reaches the SDK, as with the other servers.
		context.addServletMappingDecoded("/mcp", "mcp");
		return tomcat;
	}

	private static void deleteTree(Path root) {
		try (Stream<Path> paths = Files.walk(root)) {
			paths.sorted(Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
		}
		catch (IOException e) {
			// Best effort: a leftover scratch directory in the temp dir is harmless.
		}
	}

	/** The harness ends us by closing our stdin; a daemon thread blocked on it notices EOF. */
	private static void exitWhenStdinCloses() {
		Thread watcher = new Thread(() -> {
			InputStream stdin = System.in;
			byte[] sink = new byte[256];
			try {
				while (stdin.read(sink) >= 0) {
					// Discard: stdin carries nothing, it only signals the harness is still there.
				}
			}
			catch (IOException e) {
				// A broken stdin means the harness is gone, same as EOF.
			}
			System.exit(0);
		}, "stdin-watcher");
		watcher.setDaemon(true);
		watcher.start();
	}

	private record Flags(int port, String log) {

		static Flags parse(String[] args) {
			Integer port = null;
			String log = null;
			for (int i = 0; i < args.length; i += 2) {
				if (i + 1 >= args.length) {
					throw usage(args[i] + " needs a value");
				}
				switch (args[i]) {
					case "--port" -> port = Integer.valueOf(args[i + 1]);
					case "--log" -> log = args[i + 1];
					default -> throw usage("unknown flag " + args[i]);
				}
			}
			if (port == null || log == null) {
				throw usage("--port and --log are required");
			}
			return new Flags(port, log);
		}

		private static IllegalArgumentException usage(String problem) {
			return new IllegalArgumentException(problem + "; usage: --port P --log FILE");
		}

	}

}
