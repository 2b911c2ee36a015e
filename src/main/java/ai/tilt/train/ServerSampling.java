package ai.tilt.train;

import ai.tilt.model.CausalLM;
import ai.tilt.model.CompletionsClient;
import ai.tilt.model.Generator;
import ai.tilt.model.GroupGenerator;
import ai.tilt.model.LoraFiles;
import ai.tilt.model.ModelFiles;
import ai.tilt.model.SamplingParams;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * On-policy sampling on an inference server, and the weight sync that keeps it on-policy: before
 * iteration i samples, the server must hold the policy of at most {@code staleness} iterations ago;
 * if not, the policy (or its LoRA adapter) is written to {@code weightsDir/iter-NNNNNN} as an HF
 * checkpoint and the server is told to load it. The first collection of a process always syncs, so
 * a resumed run never samples from whatever the server held before.
 */
final class ServerSampling implements GroupGenerator, AutoCloseable {
  private final SamplerSpec spec;
  private final CausalLM policy;
  private final Path weightsDir;
  private final String basePath; // an adapter's base_model_name_or_path
  private final long maxShardBytes;
  private final List<CompletionsClient> clients; // one per server
  private long syncedIteration = -1; // the iteration whose starting weights the server holds
  private Path syncedDir;
  private String adapterName; // the loaded LoRA adapter's name, or null
  private double lastSyncSeconds;
  private final ExecutorService background =
      Executors.newSingleThreadExecutor(
          r -> {
            Thread t = new Thread(r, "tilt-prefetch");
            t.setDaemon(true);
            return t;
          });

  ServerSampling(
      SamplerSpec spec,
      CausalLM policy,
      long[] eosIds,
      Path weightsDir,
      String basePath,
      long maxShardBytes) {
    if (spec.update() == SamplerSpec.Update.LORA_ADAPTER && policy.lora() == null) {
      throw new IllegalArgumentException(
          "online.generator.update lora_adapter needs model.lora: without adapters there is"
              + " nothing to load; use weights_from_disk");
    }
    if (spec.update() == SamplerSpec.Update.WEIGHTS_FROM_DISK && policy.lora() != null) {
      throw new IllegalArgumentException(
          "online.generator.update weights_from_disk sends full weights, but model.lora trains"
              + " adapters: use update lora_adapter (vLLM, SGLang and tilt serve load PEFT"
              + " adapters)");
    }
    this.spec = spec;
    this.policy = policy;
    this.weightsDir = weightsDir.toAbsolutePath().normalize();
    this.basePath = basePath;
    this.maxShardBytes = maxShardBytes;
    List<CompletionsClient> made = new ArrayList<>();
    for (String url : spec.url()) {
      made.add(
          new CompletionsClient(
              new CompletionsClient.Settings(
                  URI.create(url),
                  spec.model(),
                  spec.maxConcurrency(),
                  Duration.ofMillis((long) (spec.timeoutS() * 1000)),
                  spec.retries(),
                  Duration.ofMillis((long) (spec.backoffS() * 1000)),
                  eosIds)));
    }
    this.clients = List.copyOf(made);
  }

  /**
   * Prompt g samples on server g mod S; its seed travels with it, so which server serves it changes
   * nothing. The servers work at once.
   */
  @Override
  public List<Generator.Generation> generateGroups(
      List<long[]> prompts, int samplesPerPrompt, SamplingParams params, long[] groupSeeds) {
    int servers = clients.size();
    if (servers == 1) {
      return clients.get(0).generateGroups(prompts, samplesPerPrompt, params, groupSeeds);
    }
    List<CompletableFuture<List<Generator.Generation>>> parts = new ArrayList<>();
    for (int s = 0; s < servers; s++) {
      List<long[]> mine = new ArrayList<>();
      List<Long> seeds = new ArrayList<>();
      for (int g = s; g < prompts.size(); g += servers) {
        mine.add(prompts.get(g));
        seeds.add(groupSeeds[g]);
      }
      CompletionsClient c = clients.get(s);
      long[] seedArray = seeds.stream().mapToLong(Long::longValue).toArray();
      parts.add(
          CompletableFuture.supplyAsync(
              () -> c.generateGroups(mine, samplesPerPrompt, params, seedArray)));
    }
    List<List<Generator.Generation>> got = new ArrayList<>();
    for (CompletableFuture<List<Generator.Generation>> f : parts) {
      try {
        got.add(f.join());
      } catch (CompletionException e) {
        throw e.getCause() instanceof RuntimeException re ? re : e;
      }
    }
    List<Generator.Generation> out = new ArrayList<>();
    for (int g = 0; g < prompts.size(); g++) {
      List<Generator.Generation> part = got.get(g % servers);
      int at = (g / servers) * samplesPerPrompt;
      out.addAll(part.subList(at, at + samplesPerPrompt));
    }
    return out;
  }

  /**
   * Syncs the weights if iteration {@code iteration} may not sample from the server's; returns the
   * staleness it samples with (iterations of updates the server's weights lack).
   */
  long prepare(long iteration) {
    lastSyncSeconds = 0;
    if (spec.update() == SamplerSpec.Update.NONE) {
      return 0;
    }
    if (syncedIteration < 0 || iteration - syncedIteration > spec.staleness()) {
      long t0 = System.nanoTime();
      sync(iteration);
      lastSyncSeconds = (System.nanoTime() - t0) / 1e9;
    }
    return iteration - syncedIteration;
  }

  /**
   * Overlapped sampling: makes the server hold the current policy (the start of iteration {@code
   * iteration}) unless it already does; returns the seconds it took.
   */
  double syncCurrent(long iteration) {
    if (syncedIteration == iteration) {
      return 0;
    }
    long t0 = System.nanoTime();
    sync(iteration);
    return (System.nanoTime() - t0) / 1e9;
  }

  /** The iteration whose starting weights the server holds (-1: none sent yet). */
  long syncedIteration() {
    return syncedIteration;
  }

  /** Starts sampling in the background, on the weights the server holds now. */
  CompletableFuture<List<Generator.Generation>> prefetch(
      List<long[]> prompts, int samplesPerPrompt, SamplingParams params, long[] groupSeeds) {
    return CompletableFuture.supplyAsync(
        () -> generateGroups(prompts, samplesPerPrompt, params, groupSeeds), background);
  }

  double lastSyncSeconds() {
    return lastSyncSeconds;
  }

  private void sync(long iteration) {
    Path dir = weightsDir.resolve(String.format("iter-%06d", iteration));
    Path tmp = weightsDir.resolve(String.format(".iter-%06d.tmp", iteration));
    try {
      Checkpoints.deleteTree(tmp);
      Checkpoints.deleteTree(dir);
      Files.createDirectories(tmp);
      if (policy.lora() != null) {
        LoraFiles.save(policy, tmp, basePath);
      } else {
        ModelFiles.save(policy, tmp, "F32", maxShardBytes);
      }
      // the server never sees a half-written directory
      Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      throw new UncheckedIOException("writing the sampler's weights to " + dir, e);
    }
    String name = spec.model() + "-iter" + iteration;
    for (CompletionsClient client : clients) {
      if (spec.update() == SamplerSpec.Update.LORA_ADAPTER) {
        client.loadLoraAdapter(spec.updatePath(), name, dir.toString());
        client.setModel(name);
        if (adapterName != null) {
          client.unloadLoraAdapter(
              spec.updatePath().replace("load_lora", "unload_lora"), adapterName);
        }
      } else {
        client.updateWeightsFromDisk(spec.updatePath(), dir.toString());
      }
    }
    if (spec.update() == SamplerSpec.Update.LORA_ADAPTER) {
      adapterName = name;
    }
    Path previous = syncedDir;
    syncedDir = dir;
    syncedIteration = iteration;
    if (previous != null) {
      try {
        Checkpoints.deleteTree(previous);
      } catch (IOException e) {
        // an old copy left on disk costs space, not correctness
      }
    }
  }

  @Override
  public void close() {
    background.shutdownNow();
    clients.forEach(CompletionsClient::close);
  }
}
