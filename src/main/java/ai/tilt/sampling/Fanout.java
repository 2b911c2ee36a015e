package ai.tilt.sampling;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;

/**
 * Spreads an iteration's prompts over several servers: prompt g samples on server g mod S, its seed
 * travelling with it, so which server serves it changes nothing; the servers work at once.
 */
final class Fanout {
  private Fanout() {}

  static List<Generator.Generation> across(
      List<CompletionsClient> clients,
      ExecutorService pool,
      List<long[]> prompts,
      int samplesPerPrompt,
      SamplingParams params,
      long[] groupSeeds) {
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
              () -> c.generateGroups(mine, samplesPerPrompt, params, seedArray), pool));
    }
    List<List<Generator.Generation>> got = new ArrayList<>();
    for (CompletableFuture<List<Generator.Generation>> f : parts) {
      got.add(join(f));
    }
    List<Generator.Generation> out = new ArrayList<>();
    for (int g = 0; g < prompts.size(); g++) {
      List<Generator.Generation> part = got.get(g % servers);
      int at = (g / servers) * samplesPerPrompt;
      out.addAll(part.subList(at, at + samplesPerPrompt));
    }
    return out;
  }

  private static <T> T join(CompletableFuture<T> f) {
    try {
      return f.join();
    } catch (CompletionException e) {
      throw e.getCause() instanceof RuntimeException re ? re : e;
    }
  }
}
