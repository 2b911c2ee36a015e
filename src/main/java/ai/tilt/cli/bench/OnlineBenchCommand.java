package ai.tilt.cli.bench;

import ai.tilt.bench.OnlineBench;
import ai.tilt.model.CausalLM;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code tilt bench online}: seconds per on-policy iteration, split by phase, and tokens/s. */
@Command(
    name = "online",
    mixinStandardHelpOptions = true,
    description =
        "Seconds per on-policy iteration split into generation, reward, policy and reference log-probs and"
            + " training, with generated tokens/s; defaults match the TRL anchor's RLOO benchmark.")
final class OnlineBenchCommand implements Callable<Integer> {
  @Mixin ModelChoice choice;

  @Option(names = "--loss", defaultValue = "rloo")
  String loss;

  @Option(names = "--prompts", defaultValue = "4", description = "B")
  int prompts;

  @Option(names = "--samples", defaultValue = "4", description = "C")
  int samples;

  @Option(names = "--prompt-len", defaultValue = "64")
  int promptLen;

  @Option(names = "--new-tokens", defaultValue = "64")
  int newTokens;

  @Option(
      names = "--iterations",
      defaultValue = "3",
      description = "timed iterations after 1 warm-up")
  int iterations;

  @Option(
      names = "--kl-coef",
      defaultValue = "0.05",
      description =
          "KL weight: in the reward (online.kl_coef), or for grpo in the loss (loss.beta, as TRL's"
              + " GRPO beta) (default: ${DEFAULT-VALUE})")
  double klCoef;

  @Option(
      names = "--generator",
      paramLabel = "YAML",
      description =
          "online.generator, e.g. \"{type: server, url: 'http://127.0.0.1:8000', model: policy}\""
              + " (default: in-process sampling); start the server with a model of the same shape")
  String generator;

  @Option(
      names = "--serve",
      description =
          "start tilt serve on the bench's model as a child process and time in-process sampling,"
              + " the server, and the server overlapped with the update, in one run")
  boolean serve;

  @Override
  public Integer call() throws Exception {
    OnlineBench.Settings cfg =
        new OnlineBench.Settings(
            choice.label(), loss, prompts, samples, promptLen, newTokens, iterations, klCoef);
    try (CausalLM model = choice.load()) {
      BenchOutput.print(
          serve ? OnlineBench.againstServer(model, cfg) : OnlineBench.run(model, cfg, generator));
    }
    return 0;
  }
}
