package ai.tilt.cli;

import ai.tilt.model.LoraFiles;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code tilt export}: a LoRA checkpoint merged into its base, as a plain HF model. */
@Command(
    name = "export",
    mixinStandardHelpOptions = true,
    description = {
      "Writes a LoRA checkpoint (or any PEFT adapter directory) merged into its base: a HF model"
          + " directory (config.json, model.safetensors, tokenizer files) that transformers and"
          + " every Tilt verb load without PEFT."
    })
public final class ExportCommand implements Callable<Integer> {
  @Parameters(index = "0", paramLabel = "CHECKPOINT", description = "a LoRA checkpoint directory")
  Path checkpoint;

  @Option(names = "--merge", required = true, description = "fold the adapters into the weights")
  boolean merge;

  @Option(names = "--out", required = true, paramLabel = "DIR", description = "output directory")
  Path out;

  @Option(
      names = "--base",
      paramLabel = "DIR",
      description = "the base model (default: the adapter's base_model_name_or_path)")
  Path base;

  @Option(
      names = "--max-shard-bytes",
      defaultValue = "2000000000",
      description = "largest safetensors shard (default: ${DEFAULT-VALUE})")
  long maxShardBytes;

  @Override
  public Integer call() throws Exception {
    if (!LoraFiles.isAdapter(checkpoint)) {
      throw new IllegalArgumentException(
          checkpoint + " has no " + LoraFiles.CONFIG + ": only LoRA checkpoints need exporting");
    }
    LoraFiles.exportMerged(checkpoint, base, out, maxShardBytes);
    System.err.println("tilt export: " + checkpoint + " merged into its base -> " + out);
    return 0;
  }
}
