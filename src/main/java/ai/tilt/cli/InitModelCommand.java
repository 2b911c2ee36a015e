package ai.tilt.cli;

import ai.tilt.data.Jsonl;
import ai.tilt.model.CausalLM;
import ai.tilt.model.ModelConfig;
import ai.tilt.model.ModelConfig.Family;
import ai.tilt.model.ModelFiles;
import ai.tilt.model.Presets;
import ai.tilt.runtime.Devices;
import ai.tilt.tokenizer.ByteLevelBpe;
import ai.tilt.tokenizer.TextTokenizer;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code tilt init-model}: a randomly initialised model in HF layout. */
@Command(
    name = "init-model",
    mixinStandardHelpOptions = true,
    description = {
      "Writes a randomly initialised model in HF layout: config.json, model.safetensors,"
          + " generation_config.json and tokenizer files. Without --tokenizer it writes Tilt's own"
          + " 512-token byte-level BPE with <|bos|>/<|eos|>/<|pad|> and a simple chat template."
    })
public final class InitModelCommand implements Callable<Integer> {
  @Option(
      names = "--arch",
      required = true,
      description = "llama, mistral, qwen2, qwen3, gpt_neox or gpt2")
  String arch;

  @Option(
      names = "--preset",
      defaultValue = "tiny",
      description = "tiny, small or medium (default: ${DEFAULT-VALUE})")
  String preset;

  @Option(names = "--out", required = true, description = "output directory")
  Path out;

  @Option(names = "--seed", defaultValue = "0", description = "(default: ${DEFAULT-VALUE})")
  long seed;

  @Option(
      names = "--tokenizer",
      description = "copy this directory's tokenizer.json / tokenizer_config.json instead")
  Path tokenizerDir;

  @Override
  public Integer call() throws Exception {
    Family family = Family.of(arch);
    Presets.size(preset); // validates the name before anything is written
    Files.createDirectories(out);
    if (tokenizerDir != null) {
      for (String f :
          new String[] {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"}) {
        Path src = tokenizerDir.resolve(f);
        if (Files.exists(src)) {
          Files.copy(src, out.resolve(f), StandardCopyOption.REPLACE_EXISTING);
        } else if (f.equals("tokenizer.json")) {
          throw new IllegalArgumentException(tokenizerDir + " has no tokenizer.json");
        }
      }
    } else {
      ByteLevelBpe.write(out);
    }
    ModelConfig config;
    try (TextTokenizer tok = TextTokenizer.load(out)) {
      config =
          Presets.config(family, preset, tok.vocabSize(), tok.bosId(), tok.eosIds(), tok.padId());
    }
    try (CausalLM model = ModelFiles.random(config, seed, 0.02f, Devices.current())) {
      ModelFiles.save(model, out, "F32", Long.MAX_VALUE);
    }
    ObjectNode gen = Jsonl.mapper().createObjectNode();
    if (config.bosTokenId() != null) {
      gen.put("bos_token_id", config.bosTokenId());
    }
    ArrayNode eos = gen.putArray("eos_token_id");
    for (long e : config.eosTokenIds()) {
      eos.add(e);
    }
    if (config.padTokenId() != null) {
      gen.put("pad_token_id", config.padTokenId());
    }
    ModelFiles.writeJson(out.resolve("generation_config.json"), gen);
    System.err.printf(
        "tilt init-model: %s %s (%,d matmul params, vocab %d) -> %s%n",
        family.modelType, preset, config.matmulParams(), config.vocabSize(), out);
    return 0;
  }
}
