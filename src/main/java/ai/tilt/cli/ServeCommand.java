package ai.tilt.cli;

import ai.tilt.model.CausalLM;
import ai.tilt.model.ModelFiles;
import ai.tilt.model.Precision;
import ai.tilt.runtime.Devices;
import ai.tilt.runtime.HubCache;
import ai.tilt.sampling.CompletionsServer;
import ai.tilt.sampling.ServeLimits;
import ai.tilt.tokenizer.TextTokenizer;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code tilt serve}: an OpenAI-compatible completions server, also for on-policy sampling. */
@Command(
    name = "serve",
    mixinStandardHelpOptions = true,
    description = {
      "Serves MODEL_DIR over HTTP as the OpenAI API does: POST /v1/completions and"
          + " /v1/chat/completions (stream: true as server-sent events), GET /v1/models, plus the"
          + " routes on-policy training uses in SGLang's and vLLM's shapes: POST"
          + " /update_weights_from_disk, /v1/load_lora_adapter, /v1/unload_lora_adapter; GET"
          + " /health. Point a recipe's online.generator at it: {type: server, url:"
          + " http://HOST:PORT, model: NAME}. Runs until SIGTERM or Ctrl-C."
    })
public final class ServeCommand implements Callable<Integer> {
  @Parameters(
      index = "0",
      paramLabel = "MODEL",
      description =
          "HF model directory, or a hub name in the HuggingFace cache (served under that name, as"
              + " vllm serve does)")
  String model;

  @Option(
      names = "--revision",
      paramLabel = "REV",
      description = "with a hub name: the branch, tag or commit of its snapshot (default main)")
  String revision;

  @Option(
      names = "--port",
      defaultValue = "8000",
      description = "TCP port; 0 picks a free one (default: ${DEFAULT-VALUE})")
  int port;

  @Option(
      names = "--host",
      defaultValue = "127.0.0.1",
      description =
          "address to listen on; 0.0.0.0 for other machines, which needs --api-key (default:"
              + " ${DEFAULT-VALUE})")
  String host;

  @Option(
      names = "--api-key",
      defaultValue = "${env:TILT_API_KEY}",
      description =
          "the Bearer token every route but /health requires (default: the environment variable"
              + " TILT_API_KEY, which other users cannot read in the process list)")
  String apiKey;

  @Option(
      names = "--max-request-bytes",
      defaultValue = "" + ServeLimits.DEFAULT_MAX_REQUEST_BYTES,
      description = "a larger request body gets 413 (default: ${DEFAULT-VALUE})")
  long maxRequestBytes;

  @Option(
      names = "--max-prompts",
      defaultValue = "" + ServeLimits.DEFAULT_MAX_PROMPTS,
      description = "prompts in one completions request (default: ${DEFAULT-VALUE})")
  int maxPrompts;

  @Option(
      names = "--max-n",
      defaultValue = "" + ServeLimits.DEFAULT_MAX_N,
      description = "the largest n a request may ask for (default: ${DEFAULT-VALUE})")
  int maxN;

  @Option(
      names = "--max-request-tokens",
      defaultValue = "" + ServeLimits.DEFAULT_MAX_REQUEST_TOKENS,
      description =
          "n x (prompt + max_tokens) over a request's prompts: the KV cache one request may hold"
              + " (default: ${DEFAULT-VALUE})")
  long maxRequestTokens;

  @Option(
      names = "--served-model-name",
      description =
          "the name requests give as model (default: the hub name, or the directory's name)")
  String servedName;

  @Option(
      names = "--dtype",
      defaultValue = "fp32",
      description = "fp32, bf16-mixed or bf16 (default: ${DEFAULT-VALUE})")
  String dtype;

  @Override
  public Integer call() throws Exception {
    Precision precision = Precision.of(dtype);
    ServeLimits limits =
        new ServeLimits(
            apiKey == null || apiKey.isEmpty() ? null : apiKey,
            maxRequestBytes,
            maxPrompts,
            maxN,
            maxRequestTokens);
    InetSocketAddress address = new InetSocketAddress(host, port);
    if (limits.apiKey() == null
        && (address.getAddress() == null || !address.getAddress().isLoopbackAddress())) {
      // refused before the model loads: a mistake should cost no minutes
      throw new IllegalArgumentException(
          "--host "
              + host
              + " lets other machines in: give --api-key KEY (or set TILT_API_KEY), or listen on"
              + " 127.0.0.1");
    }
    Path modelDir = HubCache.resolve(HubCache.RepoType.MODEL, model, revision);
    boolean byName = !Files.exists(Path.of(model));
    String name =
        servedName != null
            ? servedName
            : byName ? model : modelDir.toAbsolutePath().getFileName().toString();
    CausalLM model = ModelFiles.load(modelDir, Devices.current(), precision);
    TextTokenizer tokenizer =
        Files.exists(modelDir.resolve("tokenizer.json")) ? TextTokenizer.load(modelDir) : null;
    long[] eos =
        tokenizer != null && tokenizer.eosIds().length > 0
            ? tokenizer.eosIds()
            : model.config().eosTokenIds();
    CompletionsServer server;
    try {
      server =
          new CompletionsServer(
              model, tokenizer, name, eos, Devices.current(), precision, address, limits);
    } catch (BindException e) {
      model.close();
      throw new IllegalArgumentException(
          host
              + ":"
              + port
              + " is in use (another server?): pick another --port, or 0 for a free one");
    }
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  server.close();
                  stopped.countDown();
                }));
    server.start();
    // tests and scripts read the port from this line
    System.err.printf(
        "tilt serve: listening on http://%s:%d (model %s, %s, %s)%n",
        host,
        server.port(),
        name,
        Devices.current(),
        limits.apiKey() == null ? "no API key" : "API key required");
    stopped.await();
    return 0;
  }
}
