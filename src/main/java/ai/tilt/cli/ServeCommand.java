package ai.tilt.cli;

import ai.tilt.model.CausalLM;
import ai.tilt.model.ModelFiles;
import ai.tilt.model.Precision;
import ai.tilt.runtime.Devices;
import ai.tilt.sampling.CompletionsServer;
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

/** {@code tilt serve}: an OpenAI-compatible completions server for on-policy sampling. */
@Command(
    name = "serve",
    mixinStandardHelpOptions = true,
    description = {
      "Serves MODEL_DIR over HTTP with the routes on-policy training uses, in vLLM's and SGLang's"
          + " shapes: POST /v1/completions (prompt as token ids, n, seed, logprobs,"
          + " return_tokens_as_token_ids), POST /update_weights_from_disk, POST"
          + " /v1/load_lora_adapter and /v1/unload_lora_adapter, GET /health and /v1/models."
          + " Point a recipe's online.generator at it: {type: server, url: http://HOST:PORT, model:"
          + " NAME}. Runs until SIGTERM or Ctrl-C."
    })
public final class ServeCommand implements Callable<Integer> {
  @Parameters(index = "0", paramLabel = "MODEL_DIR", description = "HF model directory")
  Path modelDir;

  @Option(
      names = "--port",
      defaultValue = "8000",
      description = "TCP port; 0 picks a free one (default: ${DEFAULT-VALUE})")
  int port;

  @Option(
      names = "--host",
      defaultValue = "127.0.0.1",
      description =
          "address to listen on; 0.0.0.0 for other machines (no authentication: a trusted network"
              + " only) (default: ${DEFAULT-VALUE})")
  String host;

  @Option(
      names = "--served-model-name",
      description = "the name requests give as model (default: MODEL_DIR's directory name)")
  String servedName;

  @Option(
      names = "--dtype",
      defaultValue = "fp32",
      description = "fp32, bf16-mixed or bf16 (default: ${DEFAULT-VALUE})")
  String dtype;

  @Override
  public Integer call() throws Exception {
    Precision precision = Precision.of(dtype);
    String name =
        servedName != null ? servedName : modelDir.toAbsolutePath().getFileName().toString();
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
              model,
              tokenizer,
              name,
              eos,
              Devices.current(),
              precision,
              new InetSocketAddress(host, port));
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
        "tilt serve: listening on http://%s:%d (model %s, %s)%n",
        host, server.port(), name, Devices.current());
    stopped.await();
    return 0;
  }
}
