package ai.tilt.sampling;

import ai.tilt.runtime.FileTrees;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;

/**
 * On-policy sampling on inference servers, and the weight sync that keeps it on-policy. Sequential
 * (the default): before iteration i samples, the servers must hold the policy of at most {@code
 * staleness} iterations ago; if not, the policy (or its LoRA adapter) is written to {@code
 * weightsDir/iter-NNNNNN} as an HF checkpoint and every server is told to load it. Overlapped:
 * right after iteration i is collected the servers get iteration i's weights and start sampling
 * iteration i+1, which the trainer picks up when it gets there. A process's first iteration always
 * syncs, so a resumed run never samples from whatever the servers held before.
 */
public final class ServerSampling implements GroupGenerator, AutoCloseable {
  private final GeneratorSpec.Server spec;
  private final WeightsWriter weights;
  private final Path weightsDir;
  private final List<CompletionsClient> clients; // one per server
  private final String unloadPath; // the LoRA unload route beside update_path's load route
  // adapters are named per job, so a resumed run or a retried load never meets its own name
  private final String adapterPrefix;
  private final boolean syncs; // false: another worker of a data-parallel job updates the servers
  private long syncedIteration = -1; // the iteration whose starting weights the servers hold
  private Path syncedDir;
  private String syncedChecksum; // the WeightsManifest checksum of syncedDir
  private Path pinnedDir; // named by the newest checkpoint: kept on disk for a resume
  // pinned by an older checkpoint, deleted once a newer one is complete: until then a kill leaves
  // the older one newest, and it needs them
  private final Set<Path> unpinned = new LinkedHashSet<>();
  private String adapterName; // the loaded LoRA adapter's name, or null
  private Prefetch pending; // overlap: the next iteration's samples, under way
  private final ExecutorService background; // one thread per server, plus the prefetch

  /** What an iteration samples with, and what to log about it. */
  public record Turn(GroupGenerator generator, long staleness, double syncSeconds) {}

  /** The next iteration's prompts and how they sample, for an overlapped prefetch. */
  public record Next(
      List<long[]> prompts, int samplesPerPrompt, SamplingParams params, long[] seeds) {}

  /** Samples of {@code iteration} being drawn on the weights of {@code weightsIteration}. */
  private record Prefetch(
      long iteration,
      long weightsIteration,
      List<long[]> prompts,
      CompletableFuture<List<Generator.Generation>> generations) {}

  /** Writes the policy's current weights into a directory, as a model the servers can load. */
  public interface WeightsWriter {
    void write(Path dir) throws IOException;
  }

  /**
   * @param weightsDir where each iteration's weights are written for the servers to read
   * @param weights writes the policy as the servers load it: HF weights, or a PEFT adapter when the
   *     spec updates by {@code lora_adapter}
   */
  public ServerSampling(
      GeneratorSpec.Server spec, long[] eosIds, Path weightsDir, WeightsWriter weights) {
    this(spec, eosIds, weightsDir, weights, true, newAdapterPrefix());
  }

  /**
   * One worker's sampling of a data-parallel job: every worker samples its own prompts, only one
   * ({@code syncs}) sends the servers their weights, and all name the adapters alike.
   *
   * @param adapterPrefix what adapter names carry between the model's name and the iteration: the
   *     same for every worker of the job ({@link #newAdapterPrefix})
   */
  public ServerSampling(
      GeneratorSpec.Server spec,
      long[] eosIds,
      Path weightsDir,
      WeightsWriter weights,
      boolean syncs,
      String adapterPrefix) {
    if (!syncs && spec.overlap()) {
      throw new IllegalArgumentException(
          "online.generator.overlap is not supported with several workers yet: set overlap:"
              + " false (staleness still applies)");
    }
    this.syncs = syncs;
    this.adapterPrefix = adapterPrefix;
    this.spec = spec;
    this.weights = weights;
    this.weightsDir = weightsDir.toAbsolutePath().normalize();
    List<CompletionsClient> made = new ArrayList<>();
    String apiKey = spec.apiKey(System::getenv);
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
                  eosIds,
                  apiKey)));
    }
    this.clients = List.copyOf(made);
    this.unloadPath = spec.updatePath().replace("load_lora", "unload_lora");
    this.background =
        Executors.newFixedThreadPool(
            clients.size() + 1,
            r -> {
              Thread t = new Thread(r, "tilt-sampling");
              t.setDaemon(true);
              return t;
            });
  }

  /**
   * What iteration {@code iteration} samples with: the overlapped prefetch of it, or the servers
   * after a sync when their weights are too old (or this process has not sent any yet).
   */
  public Turn begin(long iteration) {
    Prefetch p = pending;
    pending = null;
    if (p != null && p.iteration() == iteration) {
      return new Turn(prefetched(p), iteration - p.weightsIteration(), 0);
    }
    if (p != null) {
      p.generations().cancel(true);
    }
    if (spec.update() == GeneratorSpec.Update.NONE) {
      return new Turn(this, iteration, 0); // the servers keep the weights they started with
    }
    double seconds = 0;
    boolean tooOld = iteration - syncedIteration > (spec.overlap() ? 0 : spec.staleness());
    if (syncedIteration < 0 || tooOld) {
      long t0 = System.nanoTime();
      sync(iteration);
      seconds = (System.nanoTime() - t0) / 1e9;
    }
    return new Turn(this, iteration - syncedIteration, seconds);
  }

  /**
   * After iteration {@code iteration} is collected. Overlapped: the servers get this iteration's
   * weights and start sampling {@code next} (null after the last iteration). Returns the seconds
   * the sync took.
   */
  public double end(long iteration, Next next) {
    if (!spec.overlap() || next == null) {
      return 0;
    }
    double seconds = 0;
    if (syncedIteration != iteration) {
      long t0 = System.nanoTime();
      sync(iteration);
      seconds = (System.nanoTime() - t0) / 1e9;
    }
    CompletableFuture<List<Generator.Generation>> f =
        CompletableFuture.supplyAsync(
            () ->
                generateGroups(
                    next.prompts(), next.samplesPerPrompt(), next.params(), next.seeds()),
            background);
    pending = new Prefetch(iteration + 1, iteration, next.prompts(), f);
    return seconds;
  }

  /** The samples a prefetch is drawing, for exactly the prompts it was started with. */
  private static GroupGenerator prefetched(Prefetch p) {
    return (prompts, samplesPerPrompt, params, groupSeeds) -> {
      boolean same = prompts.size() == p.prompts().size();
      for (int g = 0; same && g < prompts.size(); g++) {
        same = Arrays.equals(prompts.get(g), p.prompts().get(g));
      }
      if (!same) {
        throw new IllegalStateException("the prefetched samples are of other prompts");
      }
      return join(p.generations());
    };
  }

  private static <T> T join(CompletableFuture<T> f) {
    try {
      return f.join();
    } catch (CompletionException e) {
      throw e.getCause() instanceof RuntimeException re ? re : e;
    }
  }

  /**
   * Prompt g samples on server g mod S; its seed travels with it, so which server serves it changes
   * nothing. The servers work at once.
   */
  @Override
  public List<Generator.Generation> generateGroups(
      List<long[]> prompts, int samplesPerPrompt, SamplingParams params, long[] groupSeeds) {
    return Fanout.across(clients, background, prompts, samplesPerPrompt, params, groupSeeds);
  }

  /** A fresh adapter-name infix, for a job's first process. */
  public static String newAdapterPrefix() {
    return String.format("-%06x-iter", ThreadLocalRandom.current().nextInt(1 << 24));
  }

  private void sync(long iteration) {
    if (!syncs) { // the worker that syncs does the same now; this one only follows the names
      String name = spec.model() + adapterPrefix + iteration;
      if (spec.update() == GeneratorSpec.Update.LORA_ADAPTER) {
        clients.forEach(c -> c.setModel(name));
        adapterName = name;
      }
      syncedIteration = iteration;
      return;
    }
    Path dir = weightsDir.resolve(String.format("iter-%06d", iteration));
    Path tmp = weightsDir.resolve(String.format(".iter-%06d.tmp", iteration));
    String checksum;
    try {
      FileTrees.deleteTree(tmp);
      FileTrees.deleteTree(dir);
      Files.createDirectories(tmp);
      weights.write(tmp);
      checksum = WeightsManifest.write(tmp);
      // the server never sees a half-written directory
      Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      throw new UncheckedIOException("writing the sampler's weights to " + dir, e);
    }
    load(dir, checksum, iteration);
  }

  /** Tells every server to load the weights in {@code dir} (written for {@code iteration}). */
  private void load(Path dir, String checksum, long iteration) {
    String name = spec.model() + adapterPrefix + iteration;
    for (CompletionsClient client : clients) {
      if (spec.update() == GeneratorSpec.Update.LORA_ADAPTER) {
        try {
          client.checkLoaded(
              client.loadLoraAdapter(spec.updatePath(), name, dir.toString()),
              checksum,
              dir.toString());
        } catch (SamplingServerException e) {
          // a load that timed out but went through, retried: the name is this process's own
          if (!(e.getMessage().contains("HTTP 400") && e.getMessage().contains("already"))) {
            throw e;
          }
        }
        client.setModel(name);
        if (adapterName != null) {
          client.unloadLoraAdapter(unloadPath, adapterName);
        }
      } else {
        client.checkLoaded(
            client.updateWeightsFromDisk(spec.updatePath(), dir.toString()),
            checksum,
            dir.toString());
      }
    }
    if (spec.update() == GeneratorSpec.Update.LORA_ADAPTER) {
      adapterName = name;
    }
    Path previous = syncedDir;
    syncedDir = dir;
    syncedChecksum = checksum;
    syncedIteration = iteration;
    if (previous != null && !previous.equals(dir) && !previous.equals(pinnedDir)) {
      deleteQuietly(previous);
    }
  }

  private static void deleteQuietly(Path dir) {
    try {
      FileTrees.deleteTree(dir);
    } catch (IOException e) {
      // an old copy left on disk costs space, not correctness
    }
  }

  /**
   * What a checkpoint written now must hold for a resume to sample as this run will (see {@link
   * SamplerState}): an overlapped prefetch is waited for, and the loaded weights stay on disk until
   * a newer checkpoint names others.
   */
  public SamplerState state() {
    SamplerState.Prefetched prefetched = null;
    if (pending != null) {
      try {
        prefetched =
            new SamplerState.Prefetched(
                pending.iteration(),
                pending.weightsIteration(),
                pending.prompts(),
                join(pending.generations()));
      } catch (RuntimeException e) {
        // the prefetch failed: the resumed run samples that iteration afresh, as this one will
      }
    }
    if (pinnedDir != null && !pinnedDir.equals(syncedDir)) {
      unpinned.add(pinnedDir);
    }
    pinnedDir = syncedDir;
    return new SamplerState(
        syncedDir == null ? -1 : syncedIteration,
        syncedDir == null ? null : syncedDir.getFileName().toString(),
        syncedChecksum,
        prefetched);
  }

  /**
   * The checkpoint {@link #state} went into is complete: the weights only older checkpoints name
   * are deleted (unless the servers hold them again).
   */
  public void releaseUnpinned() {
    for (Path dir : unpinned) {
      if (!dir.equals(pinnedDir) && !dir.equals(syncedDir)) {
        deleteQuietly(dir);
      }
    }
    unpinned.clear();
  }

  /**
   * Continues from a checkpoint's {@link SamplerState}: the servers load the weights it names again
   * (when their directory is still there with the same checksum) and an overlapped run gets its
   * saved prefetch back. Returns what could not be restored, or null when all was: the resumed run
   * then samples fresh weights there and continues correctly, though not bitwise.
   */
  public String restore(SamplerState saved) {
    if (saved.prefetch() != null) {
      SamplerState.Prefetched p = saved.prefetch();
      pending =
          new Prefetch(
              p.iteration(),
              p.weightsIteration(),
              p.prompts(),
              CompletableFuture.completedFuture(p.generations()));
    }
    if (saved.syncedDir() == null || spec.update() == GeneratorSpec.Update.NONE) {
      return null;
    }
    if (!syncs) { // the syncing worker loads them; this one follows the name
      syncedIteration = saved.syncedIteration();
      if (spec.update() == GeneratorSpec.Update.LORA_ADAPTER) {
        adapterName = spec.model() + adapterPrefix + saved.syncedIteration();
        clients.forEach(c -> c.setModel(adapterName));
      }
      return null;
    }
    Path dir = weightsDir.resolve(saved.syncedDir());
    String why;
    try {
      String sum = WeightsManifest.verify(dir);
      why =
          sum == null
              ? dir + (Files.isDirectory(dir) ? " has no " + WeightsManifest.FILE : " is gone")
              : sum.equals(saved.syncedChecksum()) ? null : dir + " holds other weights now";
    } catch (IOException e) {
      why = dir + " is damaged: " + e.getMessage();
    }
    if (why != null) {
      return why;
    }
    load(dir, saved.syncedChecksum(), saved.syncedIteration());
    pinnedDir = dir;
    return null;
  }

  /** Unloads this process's adapter (best effort: the servers may be gone) and stops. */
  @Override
  public void close() {
    if (pending != null) {
      pending.generations().cancel(true);
    }
    background.shutdownNow();
    if (adapterName != null && syncs) {
      for (CompletionsClient client : clients) {
        try {
          client.unloadLoraAdapter(unloadPath, adapterName);
        } catch (SamplingServerException e) {
          // the adapter stays loaded on a server that is down or refuses: nothing to lose here
        }
      }
    }
    clients.forEach(CompletionsClient::close);
  }
}
